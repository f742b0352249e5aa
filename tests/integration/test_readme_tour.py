#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The README's "A 5-minute tour", run as written against a real daemon.

Every command of the tour's sh blocks is run in order (curl against the
daemon's port instead of 8080; `build/engine/stopgate` as STOPGATE_BIN on
the daemon's data directory). What the README shows is checked:

- `# {...}` under a command, or after it on its line: every "key":value
  the fragment shows is in the answer (a string ending in " ..." is a
  prefix); `A   then   B` means the first run answers A and a second run B;
- `# ok: ...` after a command: its output starts that way;
- `exit N` in a command's comment: its exit status;
- every curl answer is JSON (or JSON lines) without an "error" member.
"""
import json
import os
import re
import shlex
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sgtest  # noqa: E402

ROOT = os.environ.get("SG_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
README = os.path.join(ROOT, "README.md")
PAIR = re.compile(r'"([^"]+)":("(?:[^"\\]|\\.)*"|-?[0-9.]+|true|false|null)')


def tour_commands():
    """[(argv, trailing comment, [expected fragments on the lines below])]"""
    text = open(README, encoding="utf-8").read()
    m = re.search(r"^## A 5-minute tour\n(.*?)(?=^## )", text, re.S | re.M)
    if not m:
        raise RuntimeError("README.md has no '## A 5-minute tour' section")
    cmds = []
    for block in re.findall(r"^```sh\n(.*?)^```", m.group(1), re.S | re.M):
        block = block.replace("\\\n", " ")
        for line in block.split("\n"):
            s = line.strip()
            if not s:
                continue
            if s.startswith("#"):
                if not cmds:
                    raise RuntimeError("an expectation before any command: " + s)
                cmds[-1][2].append(s[1:].strip())
                continue
            # the trailing comment: after the first " #" outside quotes
            masked = re.sub(r"'[^']*'", lambda q: "x" * len(q.group(0)), s)
            cm = re.search(r"\s#\s?", masked)
            comment = s[cm.end():].strip() if cm else ""
            words = shlex.split(s[:cm.start()] if cm else s)
            cmds.append([words, comment, []])
    return cmds


def fragment_ok(cases, what, fragment, out):
    pairs = PAIR.findall(fragment)
    cases.check(f"{what}: the README shows something to check", pairs, fragment)
    for k, v in pairs:
        if v.startswith('"') and v.endswith(' ..."'):  # "text ..." is a prefix of the real value
            cases.check(f"{what}: {k} starts {v[:-5]}\"", f'"{k}":{v[:-5]}' in out, out[:300])
        else:
            cases.check(f"{what}: {k}={v}", f'"{k}":{v}' in out, out[:300])


def body(cases):
    d = sgtest.Daemon().start()
    try:
        cmds = tour_commands()
        cases.check("the tour has commands", len(cmds) >= 8, str(len(cmds)))
        for words, comment, below in cmds:
            argv = list(words)
            if argv[0] == "curl":
                argv = [a.replace("localhost:8080", f"127.0.0.1:{d.port}") for a in argv]
            elif argv[0] == "build/engine/stopgate":
                argv = [sgtest.BIN, argv[1], "--data", d.data, "--keywords", d.kw] + argv[2:]
            else:
                cases.check("a command the tour may use: " + argv[0], False)
                continue
            expected = below[:]
            if comment.startswith("{") or comment.startswith("ok:"):
                expected.append(comment)
            # "A   then   B": run as many times as there are answers
            answers = [a.strip() for e in expected for a in re.split(r"\s{2,}then\s{2,}", e)]
            what = " ".join(words)[:90]
            for i in range(max(1, len(answers))):
                p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
                out = p.stdout.strip()
                m = re.search(r"exit (\d+)", comment)
                if m:
                    cases.eq(f"{what}: exit status", p.returncode, int(m.group(1)))
                else:
                    cases.eq(f"{what}: exit status", p.returncode, 0)
                if argv[0] == "curl":
                    docs = []
                    try:
                        docs = [json.loads(l) for l in out.split("\n") if l.strip()]
                    except ValueError:
                        pass
                    cases.check(f"{what}: answers JSON", docs and all(isinstance(x, dict) for x in docs),
                                out[:300])
                    cases.check(f"{what}: no error", '"error"' not in out, out[:300])
                if i < len(answers):
                    a = answers[i]
                    if a.startswith("ok:"):
                        cases.check(f"{what}: prints {a}", out.startswith(a.split("...")[0].strip()), out[:200])
                    else:
                        fragment_ok(cases, what, a, out)
    finally:
        d.cleanup()


sgtest.run("readme_tour", body)
