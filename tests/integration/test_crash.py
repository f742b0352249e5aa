#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Crash consistency: zero lost acknowledged events.

Clients send concurrent inbound STOP/START messages (generic feed) and API
consent changes while the daemon is killed with SIGKILL at random moments
and restarted, for SG_CRASH_ROUNDS rounds (default 20; run longer by hand,
e.g. SG_CRASH_ROUNDS=200). Then:
  - every request that got a 2xx is in the event log, with its fields;
  - no 2xx named an event that is missing;
  - the consent state equals a replay of the log;
  - `stopgate verify` is ok.
"""
import http.client
import json
import os
import random
import signal
import subprocess
import tempfile
import threading
import time

import sgtest

ROUNDS = int(os.environ.get("SG_CRASH_ROUNDS", "20"))
CLIENTS = 8
RECIPIENTS = [f"+1212555{i:04d}" for i in range(200)]
SENDER = "+14155550100"

cases = sgtest.Cases("crash")
acked = []          # (kind, request, response json)
acked_lock = threading.Lock()
stop_clients = threading.Event()
counter = [0]


def client(d, seed):
    rnd = random.Random(seed)
    conn = None
    while not stop_clients.is_set():
        with acked_lock:
            counter[0] += 1
            n = counter[0]
        to = rnd.choice(RECIPIENTS)
        if rnd.random() < 0.7:
            req = {"id": f"m{n}", "provider": "crashtest", "from": to, "to": SENDER,
                   "body": rnd.choice(["STOP", "START", "stop", "Start", "UNSUBSCRIBE"])}
            path, kind = "/v1/inbound", "inbound"
        else:
            req = {"from": SENDER, "to": to, "action": rnd.choice(["opt_out", "opt_in"]), "source": "api",
                   "note": f"n{n}"}
            path, kind = "/v1/consent", "consent"
        try:
            if conn is None:
                conn = http.client.HTTPConnection(d.host, d.port, timeout=5)
            conn.request("POST", path, body=json.dumps(req), headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            body = r.read()
            if 200 <= r.status < 300:
                with acked_lock:
                    acked.append((kind, req, json.loads(body)))
        except (OSError, http.client.HTTPException, ValueError):
            # the daemon died under us: nothing was acknowledged; retry later
            if conn:
                conn.close()
            conn = None
            time.sleep(0.02)


def events_of(d):
    p = subprocess.run([sgtest.BIN, "export", "audit", "--data", d.data, "--keywords", d.kw, "--format", "jsonl"],
                       capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise RuntimeError(f"export failed: {p.stderr}")
    return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]


def main():
    data = os.path.join(tempfile.mkdtemp(prefix="sg-crash-"), "data")
    d = sgtest.Daemon(data=data)
    d.start()
    threads = [threading.Thread(target=client, args=(d, i), daemon=True) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    rnd = random.Random(1)
    kills = 0
    for _ in range(ROUNDS):
        time.sleep(rnd.uniform(0.05, 0.6))
        d.kill(signal.SIGKILL)
        d.proc.wait()
        kills += 1
        d.start()
    time.sleep(0.5)
    stop_clients.set()
    for t in threads:
        t.join(timeout=10)
    d.stop()
    cases.check(f"{kills} SIGKILL rounds with {len(acked)} acknowledged writes", kills >= ROUNDS and len(acked) > 200,
                f"acked={len(acked)}")

    events = events_of(d)
    by_seq = {e["seq"]: e for e in events}
    cases.eq("log is gapless", sorted(by_seq), list(range(1, len(events) + 1)))
    missing = []
    for kind, req, resp in acked:
        seq = resp.get("event")
        if kind == "inbound":
            e = by_seq.get(seq) if seq else None
            if resp.get("intent") in ("opt_out", "opt_in") and (
                    not e or e["provider_msg_id"] != req["id"] or e["recipient"] != req["from"]):
                missing.append((req, resp))
        else:
            e = by_seq.get(seq)
            if not e or e["recipient"] != req["to"] or e["action"] != req["action"] or e["note"] != req["note"]:
                missing.append((req, resp))
    cases.check("every acknowledged request is in the log", not missing, f"{len(missing)} missing: {missing[:3]}")

    # replay: per recipient, the last opt_out/opt_in (all at the sender scope)
    state = {}
    for e in sorted(events, key=lambda e: e["seq"]):
        if e["action"] in ("opt_out", "opt_in"):
            state[e["recipient"]] = e["action"]
    wrong = []
    # one read-only process checks them all (one snapshot, a line each)
    p = subprocess.run([sgtest.BIN, "check", "--data", d.data, "--keywords", d.kw, SENDER] + RECIPIENTS,
                       capture_output=True, text=True, timeout=120)
    verdicts = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
    cases.check("stopgate check answers every recipient, in order", p.returncode in (0, 1) and
                [v.get("to") for v in verdicts] == RECIPIENTS, p.stderr[-300:])
    for v in verdicts:
        want_deny = state.get(v.get("to")) == "opt_out"
        if v.get("allow") == want_deny or (not v.get("allow") and v.get("reason") != "opted_out"):
            wrong.append((v.get("to"), state.get(v.get("to")), v))
    cases.check("consent state equals a replay of the log", verdicts and not wrong, f"{wrong[:3]}")
    p = subprocess.run([sgtest.BIN, "verify", "--data", d.data, "--keywords", d.kw], capture_output=True,
                       text=True, timeout=120)
    cases.check("stopgate verify is ok", p.returncode == 0 and p.stdout.startswith("ok:"), p.stdout + p.stderr)
    d.cleanup()


try:
    main()
except Exception as exc:  # noqa: BLE001 - reported as a failed case
    cases.crash(exc)
cases.finish()
