#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Count test cases across meson test logs and print 'N passed, N failed'.

Each meson test is a cmocka program (counts from its '[  PASSED  ] N test(s)'
and '[  FAILED  ] N test(s)' lines), an integration script (its last
'cases: N passed, M failed' line), a binding's runner (pytest, go test -v,
node --test) or a corpus replay (one case). A program
that crashed or timed out counts as at least one failure whatever it printed.
Exit status 1 when anything failed.
"""
import json
import re
import sys



def binding_counts(out):
    """Cases of a binding's own runner: pytest's closing line, node --test's
    '# pass N' / '# fail N', go test -v's '--- PASS' / '--- FAIL' lines."""
    m = re.findall(r"^=*\s*(?:(\d+) failed, )?(\d+) passed(?:, (\d+) failed)?.* in [\d.]+s", out, re.M)
    if m:
        last = m[-1]
        return int(last[1]), int(last[0] or last[2] or 0)
    pm = re.findall(r"^# pass (\d+)$", out, re.M)
    if pm:
        fm = re.findall(r"^# fail (\d+)$", out, re.M)
        return int(pm[-1]), int(fm[-1]) if fm else 0
    gp = len(re.findall(r"^\s*--- PASS: ", out, re.M))
    gf = len(re.findall(r"^\s*--- FAIL: ", out, re.M))
    if gp or gf:
        return gp, gf
    return None, None


passed = failed = 0
bad = []
for path in sys.argv[1:]:
    try:
        lines = open(path, encoding="utf-8", errors="replace").read().splitlines()
    except OSError as e:
        print(f"summary: {path}: {e}", file=sys.stderr)
        failed += 1
        continue
    for line in lines:
        if not line.strip():
            continue
        t = json.loads(line)
        out = (t.get("stdout") or "") + "\n" + (t.get("stderr") or "")
        ok = t.get("result") in ("OK", "EXPECTEDFAIL")
        if t.get("result") == "SKIP":
            continue
        p = f = None
        m = re.findall(r"\[  PASSED  \] (\d+) test", out)
        if m:
            p = int(m[-1])
            fm = re.findall(r"\[  FAILED  \] (\d+) test", out)
            f = int(fm[-1]) if fm else 0
        else:
            m = re.findall(r"cases: (\d+) passed, (\d+) failed", out)
            if m:
                p, f = int(m[-1][0]), int(m[-1][1])
            else:
                p, f = binding_counts(out)
        if p is None:
            p, f = (1, 0) if ok else (0, 1)
        if not ok and f == 0:
            f = 1
        passed += p
        failed += f
        if f:
            bad.append(t.get("name"))
if bad:
    print("failing: " + ", ".join(bad), file=sys.stderr)
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
