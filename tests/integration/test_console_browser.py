# SPDX-License-Identifier: Apache-2.0
"""The compliance console in a real browser: starts the real daemon, records
an opt-out over the API (a STOP whose text is markup), then runs
tests/browser/console.mjs (playwright-core driving Debian's headless
Chromium), which signs in with the auditor token, looks the number up,
downloads and reads the proof, verifies the chain, exports, and checks
that the API refuses a change with that token and that the text shows as
text. Afterwards the store is checked to be unchanged.

Needs chromium and `npm ci` in tests/browser (scripts/setup.sh with
SG_WITH_BROWSER=1, which the full scripts/test.sh run sets). Without them
the test is skipped (exit 77), unless SG_REQUIRE_BROWSER=1, when it fails.
Screenshots go to build/meson-logs/console/ (printed below)."""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sgtest import Cases, Daemon, q  # noqa: E402

ROOT = os.environ.get("SG_SOURCE_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BROWSER_DIR = os.path.join(ROOT, "tests", "browser")
OP = "operator-token-71d2a9"
AUD = "auditor-token-3c4b5a69788796a5"
OURS = "+14155550100"
HANDSET = "+14155552671"
XSS = "STOP <img src=x onerror=alert(1)>"
REVIEW_SENDER = "+14155550102"
REVIEW_BODY = "stop <b>texting</b> me pls"


def chromium():
    for p in [os.environ.get("CHROMIUM", ""), "/usr/lib/chromium/chromium", shutil.which("chromium") or ""]:
        if p and os.access(p, os.X_OK):
            return p
    return None


def missing():
    why = []
    if not shutil.which("node"):
        why.append("node")
    if not os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")):
        why.append("tests/browser/node_modules (npm ci)")
    if not chromium():
        why.append("chromium")
    return why


def mdb(args, stdin=None):
    p = subprocess.run(args, input=stdin, capture_output=True, timeout=60)
    if p.returncode:
        raise AssertionError(f"{args}: {p.stderr!r}")
    return p.stdout


def tampered_daemon():
    """A daemon over a store whose event 2 was altered on disk (as test_audit.py does)."""
    t = Daemon(config={"token": OP, "auditorToken": AUD})
    t.token = OP
    t.start()
    for i in range(3):
        t.post("/v1/consent", {"from": OURS, "to": f"+1415555310{i}", "action": "opt_out", "note": f"n{i}"})
    t.stop()
    lines = mdb(["mdb_dump", "-s", "events", t.data]).decode().splitlines()
    start, end = lines.index("HEADER=END") + 1, lines.index("DATA=END")
    k, v = lines[start + 2], lines[start + 3]
    i = len(v) - 80
    v = v[:i] + ("0" if v[i] != "0" else "1") + v[i + 1:]
    mdb(["mdb_load", "-s", "events", t.data], "\n".join(lines[:start] + [k, v] + lines[end:]).encode() + b"\n")
    return t.start()


def main():
    why = missing()
    if why:
        msg = "console browser test: missing " + ", ".join(why) + " (run SG_WITH_BROWSER=1 scripts/setup.sh)"
        if os.environ.get("SG_REQUIRE_BROWSER") == "1":
            print("FAIL " + msg)
            print("cases: 0 passed, 1 failed")
            sys.exit(1)
        print("skip " + msg)
        sys.exit(77)

    c = Cases("console_browser")
    build = os.environ.get("SG_BUILD_ROOT") or os.path.join(ROOT, "build")
    shots = os.path.join(build, "meson-logs", "console")
    shutil.rmtree(shots, ignore_errors=True)
    d = Daemon(config={"token": OP, "auditorToken": AUD})
    d.token = OP
    t = None
    try:
        t = tampered_daemon()
        d.start()
        r = d.post("/v1/inbound", {"provider": "gateway", "from": HANDSET, "to": OURS, "body": XSS, "id": "m-xss"})
        c.eq("the STOP over the API is an opt-out", (r.status, r.json().get("action")), (200, "opt_out"))
        r = d.post("/v1/consent", {"from": "+14155550101", "to": HANDSET, "action": "opt_out",
                                   "source": "operator", "note": "asked by phone"})
        c.eq("an operator opt-out at a second sender", r.status, 200)
        # a probable revocation held for review (campaign setting), for the review panel
        d.put("/v1/campaigns/CAMPR", {"campaignId": "CAMPR", "brandId": "BR", "status": "ACTIVE",
                                      "usecase": "MARKETING", "stopgate": {"probable": "review"}})
        d.put(f"/v1/senders/{q(REVIEW_SENDER)}", {"campaignId": "CAMPR"})
        r = d.post("/v1/inbound", {"provider": "gateway", "from": "+14155552673", "to": REVIEW_SENDER,
                                   "body": REVIEW_BODY, "id": "m-review"})
        c.eq("a probable revocation is held for review", (r.status, r.json().get("confidence")), (200, "probable"))
        before = d.get("/healthz").json()["events"]
        env = dict(os.environ, SG_URL=f"http://127.0.0.1:{d.port}", SG_AUDITOR=AUD, SG_NUMBER=HANDSET,
                   SG_SENDER=OURS, SG_XSS=XSS, SG_REVIEW_BODY=REVIEW_BODY, SG_SHOTS=shots, SG_EVENTS=str(before), CHROMIUM=chromium(),
                   SG_BROKEN_URL=f"http://127.0.0.1:{t.port}")
        print(f"screenshots and downloads: {shots}", flush=True)
        p = subprocess.run(["node", os.path.join(BROWSER_DIR, "console.mjs")], env=env, cwd=BROWSER_DIR,
                           capture_output=True, text=True, timeout=240)
        sys.stdout.write(p.stdout)
        sys.stdout.write(p.stderr)
        passed = failed = 0
        for line in p.stdout.splitlines():
            if line.startswith("cases: "):
                parts = line.split()
                passed, failed = int(parts[1]), int(parts[3])
        c.passed += passed
        c.failed += failed
        c.eq("the browser run exits 0", p.returncode, 0)
        c.eq("nothing was recorded by the auditor session", d.get("/healthz").json()["events"], before)
        j = d.get(f"/v1/check?from={q(OURS)}&to={q(HANDSET)}").json()
        c.eq("the recipient is still opted out", j["reason"], "opted_out")
        for name in ["01-sign-in", "02-lookup", "03-proof-print", "04-audit", "06-chain-broken"]:
            path = os.path.join(shots, name + ".png")
            c.check(f"screenshot {name}.png written", os.path.getsize(path) > 1000 if os.path.exists(path) else False)
    except Exception as e:  # noqa: BLE001
        c.crash(e)
    finally:
        d.cleanup()
        if t:
            t.cleanup()
    c.finish()


main()
