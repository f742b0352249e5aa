#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Propose rarer triggers for guard rules (keywords/*.kw).

A pattern rule runs only when one of its triggers is a word of the text, so
its triggers must be words that every match holds; the rarer they are, the
fewer texts run it. A guard written with a common word among its triggers
("stop", "if") runs on most texts that mention it, though each of its
alternatives may need a rarer word as well ("maine stop nahi likha" needs
"maine" or "mene" or "humne"). This reads each guard's pattern, finds in
every top-level alternative the words (or sets of words, one of which) it
cannot match without, and picks for each alternative the set of words of
its trigger list seen least often in the corpora's texts. When every
alternative has one, the rule's triggers become their union (a subset of
the old list: no text runs the guard more often than before); otherwise
the rule is left as it is.

Only guards: a trigger list that missed a text would let an opt-out through
(the guard would not blank it), never lose one. The corpus test
(tests/unit/test_corpus.c) checks every list against every corpus text with
and without the prefilter; run it after --write.

usage: scripts/narrow-triggers.py [--write] [--keywords DIR] [--corpus DIR]
"""
import argparse
import glob
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORD = re.compile(r"[a-z0-9]+")


class Item:
    """One element of a pattern: kind is 'lit' (one character), 'bound'
    (matches no letter: \\b, \\W, \\s, a space, punctuation, ^, $),
    'group' (alternatives: lists of Items), 'look' (a lookaround), or
    'other' (anything else: \\w, ., a class, \\K ...). lo: the fewest
    repeats the quantifier allows."""

    def __init__(self, kind, val=None, alts=None):
        self.kind, self.val, self.alts, self.lo = kind, val, alts, 1


def parse(p, i=0, depth=0):
    """Parse p from i to the end or to the ')' closing this level: returns
    (alternatives, i)."""
    alts, seq = [], []
    while i < len(p):
        c = p[i]
        if c == ")" and depth:
            break
        if c == "|":
            alts.append(seq)
            seq = []
            i += 1
            continue
        if c == "\\":
            e = p[i + 1]
            i += 2
            if e in "bWs":
                it = Item("bound")
            elif e == "K":
                it = Item("look")  # consumes nothing, bounds nothing
            elif e in "pPxNgk" and i < len(p) and p[i] in "{<":
                close = "}" if p[i] == "{" else ">"
                i = p.index(close, i) + 1
                it = Item("other")
            elif e.isalnum():  # \w, \S, \d, ...
                it = Item("other")
            else:  # an escaped punctuation mark: a literal non-letter
                it = Item("bound")
        elif c == "[":
            j = i + 1
            if j < len(p) and p[j] == "^":
                j += 1
            if j < len(p) and p[j] == "]":
                j += 1
            while p[j] != "]":
                j += 2 if p[j] == "\\" else 1
            body = p[i + 1:j]
            i = j + 1
            letters = re.search(r"[a-z0-9]|\\w|\\S|\^|[^\x00-\x7f]", body)
            it = Item("other" if letters else "bound")
        elif c == "(":
            if p.startswith("(*", i):
                i = p.index(")", i) + 1
                continue  # a verb: (*MARK:all), (*SKIP)
            if p.startswith("(?<![\\s\\S])", i):
                seq.append(Item("bound"))  # the start of the text
                i += len("(?<![\\s\\S])")
                continue
            look = None
            for pre in ("(?<=", "(?<!", "(?=", "(?!"):
                if p.startswith(pre, i):
                    look = pre
            if look:
                sub, i = parse(p, i + len(look), depth + 1)
                i += 1
                it = Item("look", look)
            else:
                m = re.match(r"\(\?(?::|P?<[A-Za-z_]\w*>|'[A-Za-z_]\w*'|[a-zA-Z-]*:)?", p[i:])
                i += len(m.group(0)) if m.group(0) != "(" else 1
                sub, i = parse(p, i, depth + 1)
                i += 1
                it = Item("group", alts=sub)
        elif c in "^$ ,.!?;:'-/&@":
            it = Item("bound") if c != "." else Item("other")
            i += 1
        elif c in "*+?{":
            raise ValueError("quantifier without an item")
        else:
            it = Item("lit", c)
            i += 1
        # quantifier
        if i < len(p) and p[i] in "*+?{" and not (p[i] == "{" and not re.match(r"\{\d", p[i:])):
            q = p[i]
            if q == "{":
                m = re.match(r"\{(\d*)(?:,(\d*))?\}", p[i:])
                if not m:
                    raise ValueError("bad {}")
                it.lo = int(m.group(1) or 0)
                i += len(m.group(0))
            else:
                it.lo = 0 if q in "*?" else 1
                i += 1
            if i < len(p) and p[i] in "?+":
                i += 1
        seq.append(it)
    alts.append(seq)
    return alts, i


def first_words(seq, before_bound):
    """The set of words one of which starts every match of seq (as prefilter
    words: stems end in '*'), or None. before_bound: a match of seq cannot
    continue a word on its left."""
    k = 0
    while k < len(seq) and (seq[k].kind == "look" or (seq[k].kind == "bound" and seq[k].lo >= 1)):
        before_bound |= seq[k].kind == "bound"
        k += 1
    if k == len(seq) or not before_bound:
        return None
    it = seq[k]
    if it.lo < 1:
        return None
    if it.kind == "group":
        out = set()
        for alt in it.alts:
            w = first_words(alt + seq[k + 1:], True)
            if w is None:
                return None
            out |= w
        return out
    if it.kind != "lit" or not re.match(r"[a-z0-9]", it.val):
        return None
    word = ""
    while k < len(seq) and seq[k].kind == "lit" and seq[k].lo == 1 and re.match(r"[a-z0-9]", seq[k].val):
        word += seq[k].val
        k += 1
    rest = seq[k:]
    if not rest or (rest[0].kind == "bound" and rest[0].lo >= 1):
        # a whole word, unless the end of this sequence is not the end of
        # the match (a caller's rest follows): then a stem
        return {word} if rest else ({word + "*"} if len(word) >= 3 else None)
    return {word + "*"} if len(word) >= 3 else None


def required_sets(seq, before_bound=False):
    """Every set of words one of which every match of seq holds."""
    out = []
    prev_bound = before_bound
    for k, it in enumerate(seq):
        if it.kind in ("lit", "group") and it.lo >= 1 and prev_bound:
            w = first_words(seq[k:], True)
            if w:
                out.append(w)
        if it.kind == "group" and it.lo >= 1 and len(it.alts) == 1:
            out += required_sets(it.alts[0], prev_bound)
        prev_bound = (it.kind == "bound" and it.lo >= 1) or it.kind == "look" and prev_bound
    return out


def frequency(words, texts_words):
    n = 0
    for ws in texts_words:
        for w in words:
            if (w.endswith("*") and any(x.startswith(w[:-1]) for x in ws)) or w in ws:
                n += 1
                break
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--keywords", default=os.path.join(ROOT, "keywords"))
    ap.add_argument("--corpus", default=os.path.join(ROOT, "tests", "data", "corpus"))
    o = ap.parse_args()
    texts = []
    for path in sorted(glob.glob(os.path.join(o.corpus, "*.tsv"))):
        for line in open(path, encoding="utf-8"):
            if "\t" in line and not line.startswith("#"):
                texts.append(set(WORD.findall(line.split("\t", 1)[1].lower())))
    changed = 0
    for path in sorted(glob.glob(os.path.join(o.keywords, "*.kw"))):
        lines = open(path, encoding="utf-8").read().split("\n")
        for n, line in enumerate(lines):
            f = line.split(None, 4)
            if len(f) < 5 or f[0] != "guard":
                continue
            trig, pat = f[3], f[4]
            try:
                alts, _ = parse(pat)
            except (ValueError, IndexError):
                continue
            chosen = set()
            old = set(trig.split(","))
            for alt in alts:
                # only words of the old list: a text then runs the guard no
                # more often than before, whatever its language
                sets = [s for s in required_sets(alt) if s <= old]
                if not sets:
                    chosen = None
                    break
                chosen |= min(sets, key=lambda s: (frequency(s, texts), len(s)))
            if not chosen:
                continue
            new = sorted(chosen)
            if frequency(new, texts) >= frequency(old, texts):
                continue
            print(f"{os.path.basename(path)}:{n + 1}: {f[2]}: {trig} -> {','.join(new)} "
                  f"(texts {frequency(old, texts)} -> {frequency(new, texts)})")
            changed += 1
            if o.write:
                lines[n] = " ".join(f[:3] + [",".join(new), pat])
        if o.write:
            open(path, "w", encoding="utf-8").write("\n".join(lines))
    print(f"{changed} guards {'given' if o.write else 'could take'} rarer triggers", file=sys.stderr)


if __name__ == "__main__":
    main()
