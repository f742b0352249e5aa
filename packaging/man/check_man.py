#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Every subcommand that `stopgate --help` lists has a man page, and every
option its `stopgate CMD --help` names appears in that page (the pages must
not drift from the program). usage: check_man.py STOPGATE MANDIR"""
import os
import re
import subprocess
import sys

stopgate, mandir = sys.argv[1:3]
top = subprocess.run([stopgate, "--help"], capture_output=True, text=True)
cmds = sorted({m.group(1) for m in re.finditer(r"^  ([a-z]+)\b", top.stdout + top.stderr, re.M)})
passed = failed = 0


def case(what, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {what} {detail}")


case("stopgate --help lists the subcommands", len(cmds) >= 10, cmds)
page = os.path.join(mandir, "stopgate.1")
case("stopgate(1) exists", os.path.exists(page))
main_text = open(page).read() if os.path.exists(page) else ""
for cmd in cmds:
    path = os.path.join(mandir, f"stopgate-{cmd}.1")
    if not os.path.exists(path):
        case(f"stopgate-{cmd}(1) exists", False)
        continue
    text = open(path).read().replace("\\-", "-")
    h = subprocess.run([stopgate, cmd, "--help"], capture_output=True, text=True)
    opts = set(re.findall(r"(--[a-z][a-z-]+)", h.stdout + h.stderr)) - {"--help"}
    missing = sorted(o for o in opts if o not in text)
    case(f"stopgate-{cmd}(1) has every option of 'stopgate {cmd} --help'", not missing, missing)
    case(f"stopgate(1) names {cmd}", f"stopgate\\-{cmd}" in main_text or f"stopgate-{cmd}" in main_text)
print(f"cases: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
