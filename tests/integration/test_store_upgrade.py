# SPDX-License-Identifier: Apache-2.0
"""Stores written by earlier versions open, verify and answer as they did.

Each fixture in tests/data/stores/ is a real store written by an earlier
stopgate (tests/data/stores/make_fixture.py), with what that version
answered: its audit export, suppression list, chain head, check verdicts
and violations. This build must read every one of them exactly so (a field
added since may appear; none may change or go), then write to it — an
operator opt-out with the CLI, a STOP and a START through the daemon —
and the log must still verify, old events and new in one chain."""
import json
import os
import shutil
import sys
import tarfile
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from sgtest import BIN, Daemon, q, run  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "data", "stores")


def lines(text):
    return [json.loads(x) for x in text.splitlines() if x.strip()]


def subset(old, new):
    """Every field of old is in new with the same value (new may add fields)."""
    if isinstance(old, dict):
        return isinstance(new, dict) and all(k in new and subset(v, new[k]) for k, v in old.items())
    return old == new


def one(c, name):
    src = os.path.join(FIXTURES, name)
    tmp = tempfile.mkdtemp(prefix="sg-upgrade-")
    try:
        with tarfile.open(os.path.join(src, "store.tar.gz")) as tar:
            tar.extractall(tmp)
        data = os.path.join(tmp, "data")
        d = Daemon(data=data, config={"quietHours": "none"})

        def cli(*args):
            p = d.cli(*args, timeout=60)
            return p.returncode, p.stdout.decode(), p.stderr.decode()

        def want(fname):
            with open(os.path.join(src, fname), newline="") as f:
                return f.read()

        # ---- read as it was (read-only commands first: nothing written yet) ----
        rc, out, err = cli("head", "--data", data)
        c.eq(f"{name}: the chain head", (rc, json.loads(out) if rc == 0 else err), (0, json.loads(want("head.txt"))))
        rc, out, err = cli("export", "audit", "--data", data)
        old, new = lines(want("audit.jsonl")), lines(out) if rc == 0 else []
        c.eq(f"{name}: as many events", len(new), len(old))
        bad = [o["seq"] for o, n in zip(old, new) if not subset(o, n)]
        c.check(f"{name}: every event exported as before", rc == 0 and not bad,
                (err, bad[:5], [(o, n) for o, n in zip(old, new) if not subset(o, n)][:1]))
        rc, out, err = cli("export", "optouts", "--data", data)
        c.eq(f"{name}: the suppression list", (rc, out), (0, want("optouts.csv")))
        rc, out, err = cli("violations", "--data", data, "--format", "jsonl")
        c.check(f"{name}: the violations", rc in (0, 1) and all(subset(o, n) for o, n in
                                                               zip(lines(want("violations.jsonl")), lines(out)))
                and len(lines(out)) == len(lines(want("violations.jsonl"))), (rc, out, err))
        checks = lines(want("checks.jsonl"))
        rc, out, err = cli("verify", "--data", data)
        c.check(f"{name}: verify passes", rc == 0, out + err)
        # ---- the checks, read-write open (the saved filter taken over or rebuilt) ----
        diff = []
        for ch in checks:
            rc, out, err = cli("check", "--data", data, ch["from"], ch["to"])
            got = json.loads(out) if out else {"error": err}
            if not subset(ch["verdict"], got):
                diff.append((ch, got))
        c.check(f"{name}: {len(checks)} check verdicts as before", not diff, diff[:2])

        # ---- then written to ----
        ours, fresh = checks[0]["from"], "+14155559876"
        rc, out, err = cli("optout", "--data", data, ours, fresh)
        c.eq(f"{name}: an opt-out recorded on the old store", rc, 0)
        d.start()
        try:
            r = d.post("/v1/inbound", {"id": "SM-upgrade-1", "provider": "generic", "from": fresh, "to": ours,
                                       "body": "START"})
            c.eq(f"{name}: a START through the daemon", (r.status, r.json().get("action")), (200, "opt_in"))
            r = d.post("/v1/inbound", {"id": "SM-upgrade-2", "provider": "generic", "from": checks[1]["to"],
                                       "to": ours, "body": "STOP"})
            c.eq(f"{name}: a STOP through the daemon", (r.status, r.json().get("action")), (200, "opt_out"))
            v = d.get(f"/v1/check?from={q(ours)}&to={q(checks[1]['to'])}").json()
            c.check(f"{name}: that STOP denies", not v["allow"] and v["reason"] == "opted_out", v)
            v = d.get(f"/v1/check?from={q(ours)}&to={q(checks[0]['to'])}").json()
            c.check(f"{name}: an old opt-out still denies", v["allow"] == checks[0]["verdict"]["allow"], v)
        finally:
            d.stop()
        rc, out, err = cli("verify", "--data", data)
        c.check(f"{name}: verify passes over old and new events", rc == 0, out + err)
        rc, out, err = cli("export", "audit", "--data", data)
        evs = lines(out)
        c.check(f"{name}: the old events unchanged after the writes",
                len(evs) >= len(old) + 3 and all(subset(o, n) for o, n in zip(old, evs)), (len(evs), len(old)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(c):
    names = sorted(n for n in os.listdir(FIXTURES) if os.path.exists(os.path.join(FIXTURES, n, "store.tar.gz")))
    c.check("there is a fixture to open", names, FIXTURES)
    for name in names:
        one(c, name)


run("store_upgrade", main)
