#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Write a store of this version of stopgate, and what it answers, as a
fixture for tests/integration/test_store_upgrade.py: every later version
must open it, verify it and answer exactly the same.

    STOPGATE_BIN=build/engine/stopgate SG_KEYWORDS=keywords \\
        tests/data/stores/make_fixture.py tests/data/stores/NAME

Run once per store format (never regenerate an existing fixture: it is the
old format's record). The store holds every kind of event the log knows:
registry events, inbound STOP/START/HELP and a plain-language revocation
(sender and campaign scopes), operator opt-outs at the brand and global
scopes, a Twilio webhook STOP, a review and its resolution, an import, a
redaction of the older bodies, a claimed opt-out confirmation, sends (a
violation among them) and their seal.
"""
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from datetime import datetime, timezone

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "integration"))
from sgtest import Daemon, q  # noqa: E402

OURS, OURS2 = "+14155550100", "+14155550101"
T = ["+1415555%04d" % (2600 + i) for i in range(12)]
# the pairs whose check answers are recorded (sender, recipient)
PAIRS = [(OURS, t) for t in T] + [(OURS2, t) for t in T] + [("+14155550199", t) for t in T[:6]]


def must(r, what):
    assert r.status == 200, (what, r.status, r.body[:300])
    return r.json()


def build(out):
    os.makedirs(out)
    d = Daemon(config={"allowUnsignedWebhooks": True, "publicBaseUrl": "http://127.0.0.1",
                       "quietHours": "none", "policy": {"probable": "review"}})
    d.start()
    try:
        must(d.put("/v1/campaigns/C1", {"campaignId": "C1", "brandId": "B1", "status": "ACTIVE"}), "campaign")
        must(d.put("/v1/senders/" + OURS2, {"campaignId": "C1"}), "sender")
        ins = [(T[0], OURS, "STOP"), (T[1], OURS, "HELP"), (T[2], OURS2, "please stop texting me"),
               (T[3], OURS, "STOP"), (T[3], OURS, "START")]
        for i, (frm, to, body) in enumerate(ins):
            must(d.post("/v1/inbound", {"id": "SMfix%d" % i, "provider": "generic", "from": frm, "to": to,
                                        "body": body}), "inbound %d" % i)
        must(d.post("/v1/consent", {"from": OURS2, "to": T[4], "action": "opt_out", "scope": "brand",
                                    "source": "api", "note": "fixture: brand"}), "brand opt-out")
        must(d.post("/v1/consent", {"to": T[5], "action": "opt_out", "scope": "global", "source": "api",
                                    "note": "fixture: global"}), "global opt-out")
        r = d.request("POST", "/v1/webhooks/twilio",
                      body=("MessageSid=SMfixtw&AccountSid=AC1&From=%s&To=%s&Body=Stop+please" %
                            (T[6].replace("+", "%2B"), OURS.replace("+", "%2B"))).encode(),
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status == 200, (r.status, r.body)
    finally:
        d.stop()
    time.sleep(2)  # every body so far is older than a second ago
    before = datetime.fromtimestamp(time.time() - 1, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    p = d.cli("redact", "--data", d.data, "--before", before)
    assert p.returncode == 0, p.stderr
    rows = io.StringIO()
    w = csv.writer(rows)
    w.writerow(["number"])
    for t in T[7:9]:
        w.writerow([t])
    path = os.path.join(d.tmp, "optouts.csv")
    with open(path, "w") as f:
        f.write(rows.getvalue())
    p = d.cli("import", "optouts", "--data", d.data, "--from", OURS, path)
    assert p.returncode == 0, (p.stdout, p.stderr)
    d.start()
    try:
        j = must(d.post("/v1/inbound", {"id": "SMfix-review", "provider": "generic", "from": T[9], "to": OURS,
                                        "body": "ok but if this keeps up I will say stop"}), "review")
        if j.get("action") == "review":
            must(d.post("/v1/review/%d" % j["event"], {"decision": "opt_out", "by": "fixture",
                                                       "note": "a revocation"}), "resolve")
        must(d.post("/v1/inbound", {"id": "SMfix-kept", "provider": "generic", "from": T[10], "to": OURS,
                                    "body": "STOP"}), "a body kept")
        v = must(d.get("/v1/check?from=%s&to=%s&purpose=optout_confirm" % (q(OURS), q(T[10]))), "claim")
        assert v["allow"] and v["confirmation"], v
        must(d.post("/v1/sends", {"sends": [{"id": "SMs1", "from": OURS, "to": T[11]},
                                            {"id": "SMs2", "from": OURS, "to": T[0]},
                                            {"id": "SMs3", "from": OURS, "to": T[0]}]}), "sends")
    finally:
        d.stop()  # seals the sends

    def cli(*args):
        p = d.cli(*args)
        assert p.returncode in (0, 1), (args, p.stdout, p.stderr)
        return p.stdout.decode()

    with open(os.path.join(out, "audit.jsonl"), "w") as f:
        f.write(cli("export", "audit", "--data", d.data))
    with open(os.path.join(out, "optouts.csv"), "w") as f:
        f.write(cli("export", "optouts", "--data", d.data))
    with open(os.path.join(out, "head.txt"), "w") as f:
        f.write(cli("head", "--data", d.data))
    with open(os.path.join(out, "checks.jsonl"), "w") as f:
        for frm, to in PAIRS:
            v = json.loads(cli("check", "--data", d.data, frm, to))
            f.write(json.dumps({"from": frm, "to": to, "verdict": v}, sort_keys=True) + "\n")
    with open(os.path.join(out, "violations.jsonl"), "w") as f:
        f.write(cli("violations", "--data", d.data, "--format", "jsonl"))
    with tarfile.open(os.path.join(out, "store.tar.gz"), "w:gz") as tar:
        for name in sorted(os.listdir(d.data)):
            if name not in ("lock.mdb", "writer.lock"):
                tar.add(os.path.join(d.data, name), arcname="data/" + name)
    d.cleanup()


if __name__ == "__main__":
    if len(sys.argv) != 2 or os.path.exists(sys.argv[1]):
        sys.exit("usage: make_fixture.py NEW_DIR (never an existing fixture)")
    build(sys.argv[1])
