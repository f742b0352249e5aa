#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Quiet hours over real HTTP and the CLI: GET /v1/check with category and
at, the batch, 422 on bad values, the campaign usecase deciding, and a
SIGHUP reload that names a broken rule file's line and keeps the old rules."""
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sgtest import Cases, Daemon, q  # noqa: E402

SRC = os.environ.get("SG_SOURCE_ROOT", ".")
OURS = "+12125550100"
MIAMI = "+13055551234"


def main():
    c = Cases("quiet_hours")
    d = Daemon()
    qh = os.path.join(d.tmp, "quiet-hours")
    shutil.copytree(os.path.join(SRC, "quiet-hours"), qh)
    d.config = {"quietHours": qh}
    d.start()
    try:
        r = d.get(f"/v1/check?from={q(OURS)}&to={q(MIAMI)}&category=marketing&at=2026-12-02T01:30:00Z")
        v = r.json()
        c.eq("20:30 in Miami: quiet_hours", (r.status, v["allow"], v["reason"]), (200, False, "quiet_hours"))
        c.eq("next_allowed_at is 08:00 EST", v.get("next_allowed_at"), "2026-12-02T13:00:00Z")
        c.eq("region and tz", (v.get("region"), v.get("tz")), ("US-FL", "America/New_York"))
        c.check("rule names file and statute", v.get("rule", "").startswith("us-fl.qh (Fla. Stat. 501.059"), v)
        r = d.get(f"/v1/check?from={q(OURS)}&to={q(MIAMI)}&category=marketing&at=2026-12-02T00:30:00Z")
        c.eq("19:30 in Miami: allowed", (r.json()["allow"], r.json()["region"]), (True, "US-FL"))
        r = d.get(f"/v1/check?from={q(OURS)}&to={q(MIAMI)}&at=2026-12-02T06:00:00Z")
        c.eq("no category, no campaign: unchanged answer", r.json(),
             {"allow": True, "reason": None, "scope": None, "since": None, "event": None, "confirmation": False})
        r = d.get(f"/v1/check?from={q(OURS)}&to={q(MIAMI)}&category=spam")
        c.eq("bad category: 422", (r.status, r.json()["error"]), (422, "invalid_field"))
        r = d.get(f"/v1/check?from={q(OURS)}&to={q(MIAMI)}&category=marketing&at=tomorrow")
        c.eq("bad at: 422", r.status, 422)
        r = d.get(f"/v1/check?from={q(OURS)}&to={q(MIAMI)}&category=marketing&purpose=help_reply"
                  f"&at=2026-12-02T06:00:00Z")
        c.eq("a HELP reply is never held", r.json()["allow"], True)
        # batch: Texas on a Sunday morning, Toronto, a toll-free number
        r = d.post("/v1/check", {"from": OURS, "to": ["+12145551234", "+14165551234", "+18005551234"],
                                 "category": "marketing", "at": "2026-12-06T17:30:00Z"})
        res = r.json()["results"]
        c.eq("batch: Texas Sunday 11:30 waits for noon", (res[0]["reason"], res[0]["next_allowed_at"]),
             ("quiet_hours", "2026-12-06T18:00:00Z"))
        c.eq("batch: Toronto Sunday 12:30 allowed", (res[1]["allow"], res[1]["region"]), (True, "CA-ON"))
        c.eq("batch: toll-free on a Sunday waits for Monday", (res[2]["reason"], res[2]["next_allowed_at"], res[2]["tz"]),
             ("quiet_hours", "2026-12-07T19:00:00Z", "US:*"))
        m = d.get("/metrics").body.decode()
        c.check("metrics count quiet_hours verdicts", 'stopgate_check_verdicts_total{reason="quiet_hours"} 3' in m,
                [l for l in m.splitlines() if "verdicts" in l])
        # the campaign usecase decides when no category is given
        camp = {"campaignId": "CQH1", "brandId": "B1", "status": "ACTIVE", "usecase": "MIXED"}
        c.eq("campaign PUT", d.put("/v1/campaigns/CQH1", camp).status, 200)
        c.eq("sender PUT", d.put(f"/v1/senders/{q(OURS)}", {"campaignId": "CQH1"}).status, 200)
        v = d.get(f"/v1/check?from={q(OURS)}&to={q(MIAMI)}&at=2026-12-02T06:00:00Z").json()
        c.eq("MIXED usecase is marketing", (v["reason"], v["category"]), ("quiet_hours", "marketing"))
        v = d.get(f"/v1/check?from={q(OURS)}&to={q(MIAMI)}&category=transactional&at=2026-12-02T06:00:00Z").json()
        c.eq("the parameter beats the usecase", (v["allow"], v["category"]), (True, "transactional"))
        # CLI, read-only beside the daemon
        p = d.cli("check", "--data", d.data, "--category", "marketing", "--at", "2026-12-06T18:00:00Z", OURS, "+12055551234")
        c.check("CLI: Alabama Sunday denied, exit 1", p.returncode == 1 and b'"us-al.qh' in p.stdout, p.stdout)
        # a broken rule file on SIGHUP: named, old rules stay
        with open(os.path.join(qh, "us-tx.qh"), "a") as f:
            f.write("hours sun noon-21:00\n")
        d.kill(signal.SIGHUP)
        deadline = time.time() + 10
        while time.time() < deadline and "us-tx.qh:" not in d.log():
            time.sleep(0.1)
        c.check("SIGHUP: the broken file and line are logged", "us-tx.qh:" in d.log(), d.log()[-800:])
        r = d.post("/v1/check", {"from": "+12125550199", "to": ["+12145551234"], "category": "marketing",
                                 "at": "2026-12-06T17:30:00Z"})
        c.eq("the previous rules stay in force", r.json()["results"][0]["reason"], "quiet_hours")
    finally:
        d.stop()
        d.cleanup()
    # the shipped NANP data is what the generator makes from the Debian package
    gen = os.path.join(SRC, "scripts", "gen-nanp-zones.py")
    p = subprocess.run(["/usr/bin/python3", gen], capture_output=True, text=True, timeout=120)
    if c.check("gen-nanp-zones.py runs (python3-phonenumbers, scripts/setup.sh)", p.returncode == 0, p.stderr[-500:]):
        with open(os.path.join(SRC, "quiet-hours", "zones", "nanp.tsv"), encoding="utf-8") as f:
            shipped = [l for l in f if not l.startswith("#")]
        made = [l + "\n" for l in p.stdout.splitlines() if not l.startswith("#")]
        c.eq("quiet-hours/zones/nanp.tsv is the generator's output (less the dated header)", len(made), len(shipped))
        c.check("... line for line", made == shipped, next((a for a, b in zip(made, shipped) if a != b), ""))
    c.finish()


if __name__ == "__main__":
    main()
