# SPDX-License-Identifier: Apache-2.0
"""Consent integrity across the daemon's and the CLI's entry points
(issue 11): JSON followed by whitespace, texts of any length, provider ids
of any length, the one confirmation (claimed by the writer, never allowed
by a read-only reader), the first opt-out time kept through a repeated STOP,
inactive campaigns denied by default, and operator/API opt-ins that may not
undo a person's own STOP without an explicit override. The real binary,
real HTTP, a real store."""
import csv
import io
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sgtest import BIN, Daemon, keywords_dir, q, run  # noqa: E402

OURS = "+14155550100"
FORM = "application/x-www-form-urlencoded"


def check(d, frm, to, purpose=None):
    path = f"/v1/check?from={q(frm)}&to={q(to)}"
    if purpose:
        path += f"&purpose={purpose}"
    return d.get(path).json()


def raw_json(d, path, body, method="POST"):
    return d.request(method, path, body=body, headers={"Content-Type": "application/json"})


def audit(d):
    r = d.get("/v1/audit")
    return [json.loads(line) for line in r.body.decode().splitlines() if line]


def trailing_whitespace(c, d):
    """Item 7: RFC 8259 allows whitespace after the value; curl --json @file,
    jq | curl and Go's json.Encoder all send a newline."""
    for i, tail in enumerate([b"\n", b"\r\n", b"  \t\n\n", b" "]):
        handset = f"+1415555{3100 + i:04d}"
        body = json.dumps({"id": f"ws-{i}", "from": handset, "to": OURS, "body": "STOP"}).encode() + tail
        r = raw_json(d, "/v1/inbound", body)
        c.check(f"inbound JSON + {tail!r}: 200, the STOP recorded",
                r.status == 200 and r.json()["action"] == "opt_out", r)
        c.eq(f"inbound JSON + {tail!r}: the check denies", check(d, OURS, handset)["reason"], "opted_out")
    r = raw_json(d, "/v1/consent", json.dumps({"from": OURS, "to": "+14155553110", "action": "opt_out"}).encode() + b"\n")
    c.check("consent JSON + newline: 200", r.status == 200 and r.json()["applied"], r)
    r = raw_json(d, "/v1/check", json.dumps({"from": OURS, "to": ["+14155553110", "+14155553111"]}).encode() + b"\n")
    c.check("batch check JSON + newline: 200, verdicts right",
            r.status == 200 and [v["allow"] for v in r.json()["results"]] == [False, True], r)
    r = raw_json(d, "/v1/campaigns/CWS", json.dumps({"campaignId": "CWS", "status": "ACTIVE"}).encode() + b"\n",
                 method="PUT")
    c.eq("campaign PUT JSON + newline: 200", r.status, 200)
    for tail in (b"x", b"\n{}", b" ,", b"\n\x0b"):
        body = json.dumps({"from": "+14155553120", "to": OURS, "body": "STOP"}).encode() + tail
        r = raw_json(d, "/v1/inbound", body)
        c.check(f"inbound JSON + {tail!r}: still 400 bad_json (not whitespace)",
                r.status == 400 and r.json()["error"] == "bad_json" and "after the JSON value" in r.json()["detail"], r)


def long_texts(c, d):
    """Item 8: a text of any length is classified whole; only the stored copy
    is capped, and the event says so."""
    cases = [
        ("2000 characters", "a" * 0 + "Hello there. " * 150 + "Please stop texting me.", False),
        ("2048 characters of emoji and a request", "\U0001F600" * 2020 + " stop texting me", False),
        ("40,000 bytes", "word " * 8000 + "Please stop texting me.", True),
    ]
    for i, (what, text, truncated) in enumerate(cases):
        handset = f"+1415555{3200 + i:04d}"
        r = d.post("/v1/inbound", {"id": f"long-{i}", "from": handset, "to": OURS, "body": text})
        c.check(f"long text ({what}): 200 opt_out, recorded",
                r.status == 200 and r.json()["action"] == "opt_out" and r.json()["event"], r)
        c.eq(f"long text ({what}): the check denies", check(d, OURS, handset)["reason"], "opted_out")
        ev = [e for e in audit(d) if e["recipient"] == handset][-1]
        stored = len(text.encode())
        if truncated:
            c.check(f"long text ({what}): stored copy capped, the note says so",
                    ev["body_len"] == 32768 and "body_truncated: stored 32768 of %d bytes" % stored in (ev.get("note") or ""),
                    (ev["body_len"], ev.get("note")))
        else:
            c.check(f"long text ({what}): stored whole", ev["body_len"] == stored and not ev.get("note"),
                    (ev["body_len"], ev.get("note")))
    # through a provider webhook too (Twilio form, unsigned allowed here)
    from urllib.parse import urlencode
    body = urlencode({"MessageSid": "SMlong1", "AccountSid": "AC1", "From": "+14155553210", "To": OURS,
                      "Body": "Thanks for the updates over the years. " * 60 + "Now please stop texting me."})
    r = d.request("POST", "/v1/webhooks/twilio/inbound", body=body.encode(), headers={"Content-Type": FORM})
    c.eq("long text via the Twilio webhook: 200", r.status, 200)
    c.eq("long text via the Twilio webhook: recorded, the check denies",
         check(d, OURS, "+14155553210")["reason"], "opted_out")
    # Bandwidth allows 2,048 characters
    bw = [{"type": "message-received", "time": "2026-11-01T10:00:00Z", "to": OURS, "description": "x",
           "message": {"id": "bw-long-1", "time": "2026-11-01T10:00:00Z", "to": [OURS], "from": "+14155553211",
                       "text": "x " * 1000 + "unsubscribe me", "owner": OURS, "direction": "in"}}]
    r = d.request("POST", "/v1/webhooks/bandwidth", body=json.dumps(bw).encode(),
                  headers={"Content-Type": "application/json"})
    c.check("2,048-character Bandwidth text: 2xx", 200 <= r.status < 300, r)
    c.eq("2,048-character Bandwidth text: recorded", check(d, OURS, "+14155553211")["reason"], "opted_out")


def long_ids(c, d):
    """Item 9: a STOP whose provider id is over 255 bytes is recorded, and its
    retry is still a duplicate."""
    for i, n in enumerate((256, 300, 600, 5000)):
        handset = f"+1415555{3300 + i:04d}"
        mid = "id" + "x" * (n - 2)
        r = d.post("/v1/inbound", {"id": mid, "from": handset, "to": OURS, "body": "STOP"})
        c.check(f"provider id of {n} bytes: recorded", r.status == 200 and r.json()["action"] == "opt_out", r)
        c.eq(f"provider id of {n} bytes: denied", check(d, OURS, handset)["reason"], "opted_out")
        again = d.post("/v1/inbound", {"id": mid, "from": handset, "to": OURS, "body": "STOP"})
        c.check(f"provider id of {n} bytes: the retry is a duplicate",
                again.status == 200 and again.json()["duplicate"], again)
        other = d.post("/v1/inbound", {"id": mid[:-1] + "y", "from": handset, "to": OURS, "body": "START"})
        c.check(f"provider id of {n} bytes: an id differing in its last byte is not a duplicate",
                other.status == 200 and not other.json()["duplicate"], other)
    from urllib.parse import urlencode
    sid = "SM" + "9" * 400
    body = urlencode({"MessageSid": sid, "AccountSid": "AC1", "From": "+14155553390", "To": OURS, "Body": "STOP"})
    r = d.request("POST", "/v1/webhooks/twilio/inbound", body=body.encode(), headers={"Content-Type": FORM})
    c.eq("Twilio MessageSid of 402 bytes: 200", r.status, 200)
    c.eq("Twilio MessageSid of 402 bytes: recorded", check(d, OURS, "+14155553390")["reason"], "opted_out")


def confirmation(c, d):
    """Item 16: the daemon (the writer) claims the one confirmation; a
    read-only reader beside it never allows it."""
    handset = "+14155553400"
    d.post("/v1/inbound", {"id": "conf-1", "from": handset, "to": OURS, "body": "STOP"})
    r = d.cli("check", "--data", d.data, "--keywords", d.kw, "--purpose", "optout_confirm", OURS, handset)
    out = json.loads(r.stdout or b"{}")
    c.check("read-only CLI beside the daemon: the confirmation is not allowed (needs the writer)",
            r.returncode == 1 and not out.get("allow") and out.get("reason") == "confirmation_needs_writer", (r, out))
    v = check(d, OURS, handset, "optout_confirm")
    c.check("the daemon allows the one confirmation", v["allow"] and v.get("confirmation"), v)
    v = check(d, OURS, handset, "optout_confirm")
    c.check("... once", not v["allow"] and v["reason"] == "opted_out", v)
    r = d.cli("check", "--data", d.data, "--keywords", d.kw, "--purpose", "optout_confirm", OURS, handset)
    out = json.loads(r.stdout or b"{}")
    c.check("read-only CLI after the claim: opted_out", r.returncode == 1 and out.get("reason") == "opted_out", out)


def first_optout_time(c, d):
    """Item 17: a repeated STOP keeps "since" at the first opt-out."""
    handset = "+14155553500"
    d.post("/v1/inbound", {"id": "rep-1", "from": handset, "to": OURS, "body": "STOP",
                           "received_at": "2026-10-01T10:00:00Z"})
    first = check(d, OURS, handset)
    d.post("/v1/inbound", {"id": "rep-2", "from": handset, "to": OURS, "body": "STOP",
                           "received_at": "2026-10-05T10:00:00Z"})
    second = check(d, OURS, handset)
    c.eq("repeated STOP: since stays the first opt-out's", second.get("since"), first.get("since"))
    c.eq("repeated STOP: the event is the first one", second.get("event"), first.get("event"))
    proof = d.get(f"/v1/consent?from={q(OURS)}&to={q(handset)}").json()
    c.check("proof lists both STOPs", sum(1 for e in proof.get("events", []) if e["action"] == "opt_out") == 2, proof)
    return handset


def optouts_export_after_stop(c, d, handset):
    r = d.cli("export", "optouts", "--data", d.data)
    rows = [row for row in csv.DictReader(io.StringIO(r.stdout.decode(), newline="")) if row["phone_number"] == handset]
    c.check("optouts export: the first opt-out's event time, the latest apart",
            len(rows) == 1 and rows[0]["opted_out_at"].startswith("2026-10-01T10:00:00")
            and rows[0]["latest_seq"] != rows[0]["seq"] and rows[0]["latest_at"] >= rows[0]["recorded_at"], rows)


def future_event_time(c, d):
    """Found beside item 17: a START with a far-future received_at shadowed
    every later STOP (they looked older and were ignored)."""
    handset = "+14155553550"
    r = d.post("/v1/inbound", {"id": "fut-1", "from": handset, "to": OURS, "body": "START",
                               "received_at": "2099-01-01T00:00:00Z"})
    c.eq("START dated 2099: recorded", r.status, 200)
    r = d.post("/v1/inbound", {"id": "fut-2", "from": handset, "to": OURS, "body": "STOP"})
    c.check("a STOP now, after a START dated 2099: applied", r.status == 200 and r.json()["action"] == "opt_out", r)
    c.eq("... and the check denies", check(d, OURS, handset)["reason"], "opted_out")


def inactive_campaigns(c, d):
    """Item 18: a known campaign that is not ACTIVE is denied by default."""
    for status in ("EXPIRED", "SUSPENDED", "DELETED"):
        cid = f"C-{status}"
        sender = {"EXPIRED": "+14155550601", "SUSPENDED": "+14155550602", "DELETED": "+14155550603"}[status]
        c.eq(f"campaign {status}: PUT", d.put(f"/v1/campaigns/{cid}", {"campaignId": cid, "status": status}).status, 200)
        c.eq(f"sender on {status}: PUT", d.put(f"/v1/senders/{q(sender)}", {"campaignId": cid}).status, 200)
        v = check(d, sender, "+14155553600")
        c.check(f"campaign {status}: check denies campaign_inactive by default",
                not v["allow"] and v["reason"] == "campaign_inactive", v)
        r = d.post("/v1/check", {"from": sender, "to": ["+14155553601", "+14155553602"]})
        c.check(f"campaign {status}: batch denies every recipient",
                r.status == 200 and all(x["reason"] == "campaign_inactive" for x in r.json()["results"]), r)
        r = d.cli("check", "--data", d.data, "--keywords", d.kw, sender, "+14155553600")
        c.check(f"campaign {status}: the read-only CLI denies too", r.returncode == 1 and b"campaign_inactive" in r.stdout, r)
    d.put("/v1/campaigns/C-ACT", {"campaignId": "C-ACT", "status": "ACTIVE"})
    d.put(f"/v1/senders/{q('+14155550604')}", {"campaignId": "C-ACT"})
    c.check("campaign ACTIVE: allowed", check(d, "+14155550604", "+14155553600")["allow"])


def inactive_relaxed(c):
    d = Daemon(config={"policy": {"allowInactiveCampaigns": True}}).start()
    try:
        d.put("/v1/campaigns/C-EXP", {"campaignId": "C-EXP", "status": "EXPIRED"})
        d.put(f"/v1/senders/{q('+14155550601')}", {"campaignId": "C-EXP"})
        c.check("policy allowInactiveCampaigns: an EXPIRED campaign's sender may send",
                check(d, "+14155550601", "+14155553600")["allow"])
    finally:
        d.cleanup()


def optin_override(c, d):
    """Item 19: anyone with the token could re-subscribe a person who texted
    STOP; now it takes an explicit, flagged override."""
    handset = "+14155553700"
    d.post("/v1/inbound", {"id": "ovr-1", "from": handset, "to": OURS, "body": "STOP"})
    r = d.post("/v1/consent", {"from": OURS, "to": handset, "action": "opt_in"})
    c.check("API opt-in over the person's STOP: 409 recipient_opted_out",
            r.status == 409 and r.json()["error"] == "recipient_opted_out" and "override" in r.json()["detail"], r)
    c.eq("... and they stay opted out", check(d, OURS, handset)["reason"], "opted_out")
    r = d.post("/v1/consent", {"from": OURS, "to": handset, "action": "opt_in", "source": "keyword"})
    c.check("API opt-in claiming to be the person's keyword: 422", r.status == 422, r)
    r = d.post("/v1/consent", {"from": OURS, "to": handset, "action": "opt_in", "source": "provider_signal"})
    c.check("API opt-in claiming to be a provider signal: 422", r.status == 422, r)
    r = d.post("/v1/consent", {"from": OURS, "to": handset, "action": "opt_in", "override": "consumer_request"})
    c.check("override without a note: 409", r.status == 409, r)
    r = d.post("/v1/consent", {"from": OURS, "to": handset, "action": "opt_in", "override": "because"})
    c.check("unknown override: 422", r.status == 422, r)
    r = d.post("/v1/consent", {"from": OURS, "to": handset, "action": "opt_out", "override": "consumer_request",
                               "note": "x"})
    c.check("override on an opt-out: 422", r.status == 422, r)
    r = d.post("/v1/consent", {"from": OURS, "to": handset, "action": "opt_in", "override": "consumer_request",
                               "note": "called support 2026-11-30, ticket 8812"})
    c.check("override with a note: 200 applied", r.status == 200 and r.json()["applied"], r)
    c.check("... now allowed", check(d, OURS, handset)["allow"])
    ev = [e for e in audit(d) if e["recipient"] == handset][-1]
    c.check("the audit log flags the override", ev["action"] == "opt_in" and ev["rule"] == "override:consumer_request"
            and ev["note"] == "called support 2026-11-30, ticket 8812", ev)
    # the person's own START always works
    h2 = "+14155553701"
    d.post("/v1/inbound", {"id": "ovr-2", "from": h2, "to": OURS, "body": "STOP"})
    r = d.post("/v1/inbound", {"id": "ovr-3", "from": h2, "to": OURS, "body": "START"})
    c.check("the person's own START: applied", r.status == 200 and r.json()["action"] == "opt_in", r)
    c.check("... allowed", check(d, OURS, h2)["allow"])
    # an operator's own opt-out is the operator's to lift
    d.post("/v1/consent", {"from": OURS, "to": "+14155553702", "action": "opt_out"})
    r = d.post("/v1/consent", {"from": OURS, "to": "+14155553702", "action": "opt_in"})
    c.check("API opt-in over an API opt-out: 200", r.status == 200 and r.json()["applied"], r)


def optin_override_cli(c):
    tmp = tempfile.mkdtemp(prefix="sg-int-")
    data = os.path.join(tmp, "data")
    kw = keywords_dir(tmp)
    d = Daemon(data=data).start()
    d.post("/v1/inbound", {"id": "cli-1", "from": "+14155553800", "to": OURS, "body": "STOP"})
    d.stop()

    def sg(*args):
        return subprocess.run([BIN] + list(args) + ["--data", data, "--keywords", kw], capture_output=True, timeout=30)
    r = sg("optin", OURS, "+14155553800")
    c.check("CLI optin over the person's STOP: exit 2, says how", r.returncode == 2 and b"--override consumer_request" in r.stderr, r)
    r = sg("check", OURS, "+14155553800")
    c.eq("... still denied", r.returncode, 1)
    r = sg("optin", "--override", "consumer_request", OURS, "+14155553800")
    c.eq("CLI override without --note: exit 2", r.returncode, 2)
    r = sg("optin", "--override", "consumer_request", "--note", "wrote to us by post", OURS, "+14155553800")
    c.check("CLI override with a note: exit 0", r.returncode == 0 and json.loads(r.stdout)["applied"], r)
    r = sg("check", OURS, "+14155553800")
    c.eq("... allowed", r.returncode, 0)
    d.cleanup()

    d = Daemon(config={"policy": {"forbidOptinOverride": True}}).start()
    try:
        d.post("/v1/inbound", {"id": "f-1", "from": "+14155553801", "to": OURS, "body": "STOP"})
        r = d.post("/v1/consent", {"from": OURS, "to": "+14155553801", "action": "opt_in",
                                   "override": "consumer_request", "note": "asked"})
        c.check("policy forbidOptinOverride: 403 forbidden_by_policy",
                r.status == 403 and r.json()["error"] == "forbidden_by_policy", r)
        c.eq("... still denied", check(d, OURS, "+14155553801")["reason"], "opted_out")
    finally:
        d.cleanup()


def refusal_log_flood(c, d):
    """Also found: every refused request logged one line, so one client could
    flood the log. Refusal lines are rate-limited per kind."""
    before = d.log().count("bad request")
    for _ in range(60):
        s = d.raw()
        s.sendall(b"GARBAGE / HTTP/1.1\r\n\r\n")
        try:
            s.recv(4096)
        except OSError:
            pass
        s.close()
    c.eq("the daemon still answers after 60 bad requests", d.get("/healthz").status, 200)
    log = d.log()
    lines = log.count("bad request") - before
    c.check("60 bad requests: at most a burst of lines, the rest counted as suppressed",
            1 <= lines <= 12 and "suppress" in log, (lines, log[-600:]))


def section(c, fn, *args):
    """Run one group of cases; an exception fails that group, not the rest."""
    try:
        return fn(c, *args)
    except Exception as e:  # noqa: BLE001 - reported as a failed case
        c.check(f"{fn.__name__}: ran to the end", False, repr(e))
        return None


def test(c):
    d = Daemon(config={"allowUnsignedWebhooks": True}).start()
    try:
        for fn in (trailing_whitespace, long_texts, long_ids, confirmation):
            section(c, fn, d)
        handset = section(c, first_optout_time, d)
        section(c, future_event_time, d)
        section(c, inactive_campaigns, d)
        section(c, optin_override, d)
        section(c, refusal_log_flood, d)
        d.stop()
        if handset:
            section(c, optouts_export_after_stop, d, handset)
    finally:
        d.cleanup()
    section(c, inactive_relaxed)
    section(c, optin_override_cli)


run("test_integrity", test)
