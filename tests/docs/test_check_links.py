#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""scripts/check_links.py on a fixture: it reports exactly the links that
are broken (a missing file, a missing heading, a missing anchor of the same
file, an anchor into a directory, a missing reference target) and none of
the good ones (headings with code and dashes, duplicate headings, links
inside code)."""
import os
import subprocess
import sys

root = os.environ.get("SG_SOURCE_ROOT") or os.path.join(os.path.dirname(__file__), "..", "..")
script = os.path.join(root, "scripts", "check_links.py")
fixture = os.path.join(root, "tests", "data", "docs", "links.md")

sys.path.insert(0, os.path.dirname(script))
import check_links  # noqa: E402

errors, checked = check_links.check(fixture)
with open(fixture, encoding="utf-8") as f:
    lines = f.read().split("\n")
want = {n for n, l in enumerate(lines, 1) if l.startswith("- BROKEN") or l.startswith("[ref]:")}
got = {int(e.split(":")[1]) for e in errors}
ok = True
if got != want:
    print("broken links reported on lines %s, expected %s" % (sorted(got), sorted(want)))
    for e in errors:
        print("  " + e)
    ok = False
if checked != 10:
    print("checked %d relative links, expected 10" % checked)
    ok = False
# The command line: exit 1 with one line per broken link, 0 on a good file.
p = subprocess.run([sys.executable, script, fixture], capture_output=True, text=True)
if p.returncode != 1 or p.stdout.count(fixture + ":") != len(want):
    print("check_links.py on the fixture: exit %d, output:\n%s" % (p.returncode, p.stdout))
    ok = False
p = subprocess.run([sys.executable, script, os.path.join(root, "tests", "data", "docs", "other.md")],
                   capture_output=True, text=True)
if p.returncode != 0:
    print("check_links.py on a good file: exit %d\n%s" % (p.returncode, p.stdout))
    ok = False
print("ok" if ok else "FAILED")
sys.exit(0 if ok else 1)
