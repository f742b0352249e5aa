#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Check the relative links of markdown files: every [text](target) and
[label]: target outside code points at a file or directory that exists,
and every #anchor at a heading of the file it names (GitHub's heading ids).
Links with a scheme (https:, mailto:) are not fetched.

usage: check_links.py FILE.md|DIR...  (a DIR stands for its *.md files;
                                       meson test doc_links runs it on the
                                       README, docs/ and the other guides)
Prints one line per broken link (file:line: target: why) and exits 1 if
there is any, 0 otherwise, 2 on a usage error.
"""
import os
import re
import sys

FENCE = re.compile(r"^\s{0,3}(```|~~~)")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
INLINE = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFDEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
CODESPAN = re.compile(r"(`+)(?:.+?)\1")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def slug(text):
    """GitHub's id for a heading: the text without markup, lowercased,
    everything but letters, digits, spaces, '-' and '_' dropped, spaces
    turned into '-'."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links: their text
    text = text.replace("`", "").replace("*", "")
    text = re.sub(r"<[^>]+>", "", text)
    text = text.lower()
    text = "".join(ch for ch in text if ch.isalnum() or ch in " -_")
    return text.replace(" ", "-")


def lines_outside_code(path):
    """(line number, text) of every line outside fenced code blocks, with
    inline code spans blanked."""
    fence = None
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            m = FENCE.match(line)
            if m:
                if fence is None:
                    fence = m.group(1)
                elif m.group(1) == fence:
                    fence = None
                continue
            if fence is None:
                yield n, CODESPAN.sub(lambda s: " " * len(s.group(0)), line.rstrip("\n"))


_anchors = {}


def anchors(path):
    """The ids of every heading of a markdown file (duplicates get -1, -2...)."""
    path = os.path.realpath(path)
    if path not in _anchors:
        ids, seen = set(), {}
        fence = None
        with open(path, encoding="utf-8") as f:
            for line in f:
                m = FENCE.match(line)
                if m:
                    if fence is None:
                        fence = m.group(1)
                    elif m.group(1) == fence:
                        fence = None
                    continue
                h = HEADING.match(line) if fence is None else None
                if not h:
                    continue
                s = slug(h.group(2))
                k = seen.get(s, 0)
                seen[s] = k + 1
                ids.add(s if k == 0 else "%s-%d" % (s, k))
        # explicit anchors: <a id="x"> / <a name="x">
        with open(path, encoding="utf-8") as f:
            for m in re.finditer(r"<a\s+(?:id|name)=\"([^\"]+)\"", f.read()):
                ids.add(m.group(1))
        _anchors[path] = ids
    return _anchors[path]


def check(path):
    """(broken links as messages, number of relative links checked)"""
    errors, checked = [], 0
    base = os.path.dirname(path)
    for n, line in lines_outside_code(path):
        targets = [m.group(1) for m in INLINE.finditer(line)]
        m = REFDEF.match(line)
        if m:
            targets.append(m.group(1))
        for t in targets:
            if not t or SCHEME.match(t):
                continue
            checked += 1
            file_part, _, anchor = t.partition("#")
            dest = os.path.normpath(os.path.join(base, file_part)) if file_part else path
            if not os.path.exists(dest):
                errors.append("%s:%d: %s: no such file %s" % (path, n, t, dest))
                continue
            if anchor:
                if not dest.endswith(".md") or os.path.isdir(dest):
                    errors.append("%s:%d: %s: an anchor into a file that is not markdown" % (path, n, t))
                elif anchor not in anchors(dest):
                    errors.append("%s:%d: %s: %s has no heading with id \"%s\"" % (path, n, t, dest, anchor))
    return errors, checked


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        sys.stderr.write(__doc__)
        return 2
    errors, links, paths = [], 0, []
    for a in argv[1:]:
        if os.path.isdir(a):
            paths += sorted(os.path.join(a, f) for f in os.listdir(a) if f.endswith(".md"))
        else:
            paths.append(a)
    for path in paths:
        if not os.path.isfile(path):
            sys.stderr.write("check_links: %s: no such file\n" % path)
            return 2
        e, c = check(path)
        errors += e
        links += c
    for e in errors:
        print(e)
    print("check_links: %d file(s), %d relative link(s), %d broken" % (len(paths), links, len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
