# SPDX-License-Identifier: Apache-2.0
"""Every endpoint of `stopgate serve` and every error status, against the
real binary and a real store: check (GET and batch), inbound (de-dup, STOP
then START, the confirmation window, quarantine), consent (POST and the
proof), audit (jsonl, csv, filters, chunked), registry PUTs, healthz,
metrics, 404/405/415/400/422."""
import csv
import io
import json
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sgtest import Daemon, q, run  # noqa: E402

OURS = "+14155550100"      # our sending number
OURS2 = "+14155550101"     # a second number, same campaign later
HANDSET = "+14155550199"


def check(d, frm, to, purpose=None):
    path = f"/v1/check?from={q(frm)}&to={q(to)}"
    if purpose:
        path += f"&purpose={purpose}"
    return d.get(path)


def inbound(d, body, msg_id=None, frm=HANDSET, to=OURS, provider="gateway", **extra):
    obj = {"provider": provider, "from": frm, "to": to, "body": body}
    if msg_id is not None:
        obj["id"] = msg_id
    obj.update(extra)
    return d.post("/v1/inbound", obj)


def audit_events(d, query=""):
    r = d.get("/v1/audit" + query)
    return r, [json.loads(line) for line in r.body.decode().splitlines() if line]


def test(c):
    d = Daemon().start()
    try:
        body(c, d)
    finally:
        code = d.stop()
        c.eq("clean exit after the API tests", code, 0)
        c.check("loop closed cleanly", "did not close cleanly" not in d.log() and
                "handle left open" not in d.log(), d.log()[-2000:])
        d.cleanup()


def body(c, d):
    # ---- health and metrics ----
    r = d.get("/healthz")
    c.eq("healthz 200", r.status, 200)
    c.eq("healthz ok and writable", (r.json()["status"], r.json()["writable"]), ("ok", True))

    # ---- GET /v1/check ----
    r = check(d, OURS, HANDSET)
    c.eq("check fresh pair: 200", r.status, 200)
    v = r.json()
    c.eq("check fresh pair: allowed", (v["allow"], v["reason"]), (True, None))
    c.check("check answer has scope/since/event", {"scope", "since", "event"} <= set(v), v)
    r = d.get(f"/v1/check?from={q(OURS)}")
    c.eq("check without to: 422", r.status, 422)
    c.eq("check without to: missing_field", r.json()["error"], "missing_field")
    r = check(d, OURS, HANDSET, purpose="bogus")
    c.eq("check unknown purpose: 422", r.status, 422)
    r = check(d, OURS, "not a number")
    c.eq("check invalid number: a deny verdict", (r.status, r.json()["allow"], r.json()["reason"]),
         (200, False, "invalid_number"))
    r = d.get(f"/v1/check?from={q(OURS)}&to=%ZZ")
    c.eq("check malformed percent-encoding: 422", r.status, 422)

    # ---- inbound STOP, de-dup, confirmation window ----
    r = inbound(d, "STOP", "msg-1")
    c.eq("inbound STOP: 200", r.status, 200)
    first = r.json()
    c.eq("inbound STOP: intent opt_out", first["intent"], "opt_out")
    c.check("inbound STOP: event seq", isinstance(first["event"], int) and first["event"] > 0, first)
    c.eq("inbound STOP: not duplicate", first["duplicate"], False)
    c.check("inbound STOP: a reply to send", isinstance(first["reply"], str) and first["reply"], first)
    r = check(d, OURS, HANDSET)
    v = r.json()
    c.eq("after STOP: denied opted_out", (v["allow"], v["reason"]), (False, "opted_out"))
    c.eq("after STOP: decided at the sender", v["scope"], {"kind": "sender", "id": OURS})
    c.eq("after STOP: names the event", v["event"], first["event"])
    c.check("after STOP: since set", v["since"] and v["since"].endswith("Z"), v)

    r = inbound(d, "STOP", "msg-1")
    again = r.json()
    c.eq("duplicate inbound: 200", r.status, 200)
    c.eq("duplicate inbound: duplicate true", again["duplicate"], True)
    c.eq("duplicate inbound: same event/intent/reply",
         (again["event"], again["intent"], again["reply"]),
         (first["event"], first["intent"], first["reply"]))
    r, evs = audit_events(d)
    c.eq("duplicate changed nothing: one event in the log", len([e for e in evs if e["provider_msg_id"] == "msg-1"]), 1)

    r = check(d, OURS, HANDSET, purpose="optout_confirm")
    v = r.json()
    c.eq("confirmation after STOP: allowed once", (v["allow"], v["confirmation"]), (True, True))
    r = check(d, OURS, HANDSET, purpose="optout_confirm")
    c.eq("second confirmation: denied", r.json()["allow"], False)
    r = check(d, OURS, HANDSET)
    c.eq("ordinary message still denied", r.json()["allow"], False)

    # ---- START ----
    r = inbound(d, "START", "msg-2")
    c.eq("inbound START: intent opt_in", (r.status, r.json()["intent"]), (200, "opt_in"))
    r = check(d, OURS, HANDSET)
    c.eq("after START: allowed again", r.json()["allow"], True)

    # ---- inbound: nothing, no id, errors, quarantine ----
    r = inbound(d, "see you at five", "msg-3")
    c.eq("inbound plain text: intent none, no event", (r.json()["intent"], r.json()["event"], r.json()["reply"]),
         ("none", None, None))
    r = inbound(d, "see you at five", "msg-3")
    c.eq("inbound plain text repeated: duplicate", (r.json()["duplicate"], r.json()["intent"]), (True, "none"))
    r = inbound(d, "STOP", None, frm="+14155550198")
    c.eq("inbound without id: recorded", (r.status, r.json()["intent"], r.json()["event"] is not None), (200, "opt_out", True))
    r = d.post("/v1/inbound", {"from": HANDSET, "to": OURS})
    c.eq("inbound without body: 422 missing_field", (r.status, r.json()["error"]), (422, "missing_field"))
    r = inbound(d, "STOP", "msg-4", to="our number")
    c.eq("inbound with a bad receiving number: 422 invalid_number", (r.status, r.json()["error"]), (422, "invalid_number"))
    r = inbound(d, "STOP", "msg-5", frm="garbage!!")
    c.eq("inbound with an unparseable handset: kept in quarantine",
         (r.status, r.json()["quarantined"], r.json()["recipient"].startswith("raw:")), (200, True, True))
    r = inbound(d, "STOP", "msg-6", received_at="yesterday")
    c.eq("inbound with a bad received_at: 422", r.status, 422)
    r = inbound(d, "STOP", 12345, frm="+14155550197", received_at="2026-01-02T03:04:05Z")
    c.eq("inbound with a numeric id and a time: 200", r.status, 200)
    r, evs = audit_events(d, "?after_seq=0")
    e = [e for e in evs if e["provider_msg_id"] == "12345"]
    c.eq("provider event time kept", e and e[0]["event_time"], "2026-01-02T03:04:05.000000Z")
    r = d.post("/v1/inbound", {"from": HANDSET, "to": OURS, "body": 5})
    c.eq("inbound with a non-string body: 422 invalid_field", (r.status, r.json()["error"]), (422, "invalid_field"))

    # ---- POST /v1/check (batch) ----
    r = d.post("/v1/check", {"from": OURS, "to": [HANDSET, "+14155550198", "nope", "+14155550196"]})
    c.eq("batch check: 200", r.status, 200)
    res = r.json()["results"]
    c.eq("batch check: one result per recipient, in order", [x["to"] for x in res],
         [HANDSET, "+14155550198", "nope", "+14155550196"])
    c.eq("batch check: verdicts", [(x["allow"], x["reason"]) for x in res],
         [(True, None), (False, "opted_out"), (False, "invalid_number"), (True, None)])
    big = [f"+1415555{i:04d}" for i in range(10000)]
    r = d.post("/v1/check", {"from": OURS, "to": big})
    c.eq("batch of 10,000: 200", r.status, 200)
    c.eq("batch of 10,000: 10,000 results", len(r.json()["results"]), 10000)
    r = d.post("/v1/check", {"from": OURS, "to": big + ["+14155550000"]})
    c.eq("batch of 10,001: 422 too_many_recipients", (r.status, r.json()["error"]), (422, "too_many_recipients"))
    r = d.post("/v1/check", {"from": OURS, "to": HANDSET})
    c.eq("batch with to not an array: 422", r.status, 422)
    r = d.post("/v1/check", {"to": [HANDSET]})
    c.eq("batch without from: 422", r.status, 422)
    r = d.post("/v1/check", {"from": OURS, "to": [HANDSET, 7]})
    c.eq("batch with a non-string recipient: 422", r.status, 422)

    # ---- errors of the HTTP layer ----
    r = d.get("/v1/nothing")
    c.eq("unknown path: 404 not_found", (r.status, r.json()["error"]), (404, "not_found"))
    r = d.request("DELETE", "/v1/check")
    c.eq("wrong method: 405", r.status, 405)
    c.eq("wrong method: Allow header", r.header("allow"), "GET, POST")
    r = d.request("GET", "/v1/inbound")
    c.eq("GET /v1/inbound: 405 with Allow POST", (r.status, r.header("allow")), (405, "POST"))
    r = d.request("POST", "/v1/inbound", body=b"from=1", headers={"Content-Type": "application/x-www-form-urlencoded"})
    c.eq("form body on a JSON endpoint: 415", (r.status, r.json()["error"]), (415, "unsupported_media_type"))
    r = d.request("POST", "/v1/inbound", body=b'{"from": "+1",\n "to": }', headers={"Content-Type": "application/json"})
    c.eq("bad JSON: 400 bad_json", (r.status, r.json()["error"]), (400, "bad_json"))
    c.check("bad JSON: the position is given", "byte 22" in r.json()["detail"] and "line 2" in r.json()["detail"], r.json())
    r = d.request("POST", "/v1/inbound", body=b"[1,2]", headers={"Content-Type": "application/json; charset=utf-8"})
    c.eq("JSON that is not an object: 400", r.status, 400)
    r = d.request("POST", "/v1/inbound", body=b"", headers={"Content-Type": "application/json"})
    c.eq("empty JSON body: 400", r.status, 400)
    r = d.get("/v1/webhooks/nosuchprovider")
    c.eq("unknown webhook provider: 404 unknown_provider", (r.status, r.json()["error"]), (404, "unknown_provider"))
    c.check("unknown webhook provider: the detail lists the known ones",
            all(p in r.json()["detail"] for p in ("twilio", "telnyx", "bandwidth", "plivo", "vonage", "sinch",
                                                  "aws-sns")), r.json())
    c.check("errors are JSON with error and detail", set(r.json()) == {"error", "detail"}, r.json())

    # ---- POST /v1/consent ----
    P = "+14155550150"
    r = d.post("/v1/consent", {"from": OURS, "to": P, "action": "opt_out", "source": "operator", "note": "asked by phone"})
    c.eq("consent opt_out: 200", r.status, 200)
    ev1 = r.json()
    c.eq("consent opt_out: applied", (ev1["applied"], ev1["action"], ev1["duplicate"]), (True, "opt_out", False))
    c.eq("consent opt_out: check denies", check(d, OURS, P).json()["reason"], "opted_out")
    r = d.post("/v1/consent", {"from": OURS, "to": P, "action": "opt_in"})
    c.eq("consent opt_in: 200", r.status, 200)
    c.eq("consent opt_in: check allows", check(d, OURS, P).json()["allow"], True)
    r = d.post("/v1/consent", {"from": OURS, "to": P, "action": "maybe"})
    c.eq("consent bad action: 422", (r.status, r.json()["error"]), (422, "invalid_field"))
    r = d.post("/v1/consent", {"from": OURS, "action": "opt_out"})
    c.eq("consent without to: 422", (r.status, r.json()["error"]), (422, "missing_field"))
    r = d.post("/v1/consent", {"from": OURS, "to": "12", "action": "opt_out"})
    c.eq("consent invalid number: 422", (r.status, r.json()["error"]), (422, "invalid_number"))
    r = d.post("/v1/consent", {"from": OURS, "to": P, "action": "opt_out", "source": "gossip"})
    c.eq("consent bad source: 422", r.status, 422)
    r = d.post("/v1/consent", {"from": OURS, "to": P, "action": "opt_out", "id": "op-7"})
    r2 = d.post("/v1/consent", {"from": OURS, "to": P, "action": "opt_out", "id": "op-7"})
    c.eq("consent with an id: second is a duplicate of the first",
         (r2.json()["duplicate"], r2.json()["event"]), (True, r.json()["event"]))

    # ---- GET /v1/consent: the proof ----
    r = d.get(f"/v1/consent?from={q(OURS)}&to={q(P)}")
    c.eq("consent proof: 200", r.status, 200)
    proof = r.json()
    c.eq("consent proof: verdict", proof["verdict"]["reason"], "opted_out")
    scopes = {s["scope"]: s for s in proof["scopes"]}
    c.check("consent proof: every enclosing scope listed", {"sender", "global"} <= set(scopes), proof["scopes"])
    c.eq("consent proof: sender scope opted out", scopes["sender"]["state"], "opted_out")
    c.eq("consent proof: event history of the pair", [e["action"] for e in proof["events"]],
         ["opt_out", "opt_in", "opt_out"])
    c.eq("consent proof: operator note kept", proof["events"][0]["note"], "asked by phone")
    r = d.get(f"/v1/consent?from={q(OURS)}")
    c.eq("consent proof without to: 422", r.status, 422)

    # ---- registry ----
    camp = {"campaignId": "CAMP001", "brandId": "BRAND01", "status": "ACTIVE", "usecase": "MARKETING",
            "brandName": "Acme Coffee", "helpContact": "help@acme.example",
            "stopgate": {"probable": "review"}}
    r = d.put("/v1/campaigns/CAMP002", camp)
    c.eq("campaign id mismatch: 422", r.status, 422)
    r = d.request("PUT", "/v1/campaigns/CAMP001", body=b'{"campaignId": "CAMP001",', headers={"Content-Type": "application/json"})
    c.eq("campaign bad JSON: 400", r.status, 400)
    r = d.put("/v1/campaigns/CAMP001", camp)
    c.eq("campaign PUT: 200", r.status, 200)
    c.eq("campaign PUT: stored", r.json()["campaignId"], "CAMP001")
    r = d.request("POST", "/v1/campaigns/CAMP001", json_body=camp)
    c.eq("campaign POST: 405", r.status, 405)
    r = d.put(f"/v1/senders/{q(OURS2)}", {"campaignId": "CAMP001", "group": "svc-1"})
    c.eq("sender PUT: 200", r.status, 200)
    c.eq("sender PUT: normalized key", r.json()["sender"], OURS2)
    r = d.put("/v1/senders/%2B1", {"campaignId": "CAMP001"})
    c.eq("sender PUT invalid number: 422", (r.status, r.json()["error"]), (422, "invalid_number"))
    r = d.put(f"/v1/senders/{q('+14155550102')}", {"campaignId": 17})
    c.eq("sender PUT with a non-string campaignId: 422", r.status, 422)
    r = d.put(f"/v1/senders/{q(OURS)}", {"campaignId": "CAMP001"})
    c.eq("first sender joins the campaign", r.status, 200)

    # STOP to one number of a campaign opts out of the campaign (default scope).
    H2 = "+14155550160"
    r = inbound(d, "STOP", "msg-c1", frm=H2, to=OURS2)
    c.eq("STOP to a campaign number: opt_out", r.json()["action"], "opt_out")
    v = check(d, OURS, H2).json()
    c.eq("STOP covers the whole campaign", (v["allow"], v["scope"]["kind"] if v["scope"] else None), (False, "campaign"))
    r = d.get(f"/v1/consent?from={q(OURS2)}&to={q(H2)}")
    kinds = [s["scope"] for s in r.json()["scopes"]]
    c.check("proof lists sender, group, campaign, brand, global", kinds == ["sender", "group", "campaign", "brand", "global"], kinds)

    # A probable revocation in a campaign set to review: recorded, consent unchanged.
    H3 = "+14155550170"
    text = None
    for cand in ("ok stop it lol", "stop it already", "please stop sending these"):
        cl = d.cli("classify", "--keywords", d.kw, cand)
        try:
            if json.loads(cl.stdout.decode().splitlines()[0]).get("confidence") == "probable":
                text = cand
                break
        except (ValueError, IndexError):
            pass
    if c.check("the keyword set has a probable revocation text", text is not None):
        r = inbound(d, text, "msg-p1", frm=H3, to=OURS2)
        c.eq("probable revocation under review policy: action review",
             (r.json()["intent"], r.json()["confidence"], r.json()["action"], r.json()["reply"]),
             ("opt_out", "probable", "review", None))
        # CAMP001 is MARKETING, so quiet hours apply: ask for a daytime instant
        # (15:00 in San Francisco) so that only consent decides.
        v = d.get(f"/v1/check?from={q(OURS2)}&to={q(H3)}&at=2026-12-02T23:00:00Z").json()
        c.eq("review leaves consent unchanged", v["allow"], True)
        r = inbound(d, text, "msg-p2", frm=H3, to="+14155550103")
        c.eq("probable revocation under the default policy: opt_out", r.json()["action"], "opt_out")

    # ---- audit ----
    r, evs = audit_events(d)
    c.eq("audit jsonl: 200", r.status, 200)
    c.eq("audit jsonl: chunked", r.header("transfer-encoding"), "chunked")
    c.eq("audit jsonl: content type", r.header("content-type"), "application/x-ndjson")
    seqs = [e["seq"] for e in evs]
    c.check("audit jsonl: every event in order", seqs == list(range(1, len(seqs) + 1)) and len(seqs) >= 8, seqs)
    c.check("audit events carry the hash chain", all(evs[i]["prev_hash"] == evs[i - 1]["hash"] for i in range(1, len(evs))))
    r, tail = audit_events(d, f"?after_seq={seqs[-3]}")
    c.eq("audit after_seq resumes", [e["seq"] for e in tail], seqs[-2:])
    r, none = audit_events(d, "?since=2999-01-01")
    c.eq("audit since in the future: empty", (r.status, none), (200, []))
    r, old = audit_events(d, "?until=2000-01-01T00:00:00Z")
    c.eq("audit until in the past: empty", old, [])
    r, all_ = audit_events(d, "?since=2000-01-01&until=2999-01-01")
    c.eq("audit since/until around everything", len(all_), len(evs))
    r = d.get("/v1/audit?format=xml")
    c.eq("audit bad format: 422", r.status, 422)
    r = d.get("/v1/audit?since=last+week")
    c.eq("audit bad since: 422", r.status, 422)

    # CSV: RFC 4180 quoting and formula neutralisation
    d.post("/v1/consent", {"from": OURS, "to": "+14155550180", "action": "opt_out",
                           "note": "=HYPERLINK(\"http://x\"),\"a,b\"\nline2"})
    d.post("/v1/consent", {"from": OURS, "to": "+14155550181", "action": "opt_out", "note": "@SUM(1)"})
    r = d.get("/v1/audit?format=csv")
    c.eq("audit csv: 200 text/csv", (r.status, r.header("content-type").split(";")[0]), (200, "text/csv"))
    rows = list(csv.reader(io.StringIO(r.body.decode(), newline="")))
    c.eq("audit csv: header", rows[0][:4], ["seq", "time", "event_time", "action"])
    c.eq("audit csv: one row per event", len(rows) - 1, len(evs) + 2)
    note_col = rows[0].index("note")
    notes = [row[note_col] for row in rows[1:]]
    c.check("audit csv: formula cell neutralised and quoted cell round-trips",
            "'=HYPERLINK(\"http://x\"),\"a,b\"\nline2" in notes, notes[-3:])
    c.check("audit csv: @ neutralised", "'@SUM(1)" in notes, notes[-3:])
    rc = rows[0].index("recipient")
    # the same formatter as `stopgate export audit`: a plain E.164 number stays
    # importable, anything else that starts like a formula is neutralised
    c.eq("audit csv: E.164 numbers kept as they are", rows[1][rc], "+14155550199")
    c.check("audit csv: CRLF line ends", b"\r\n" in r.body and r.body.endswith(b"\r\n"))

    # A log longer than one streamed piece (512 events), written concurrently:
    # the writer commits them in groups.
    errors = []

    def writer(k):
        conn = d.conn()
        try:
            for i in range(55):
                rr = d.post("/v1/consent", {"from": OURS, "to": f"+1415556{k:02d}{i:02d}", "action": "opt_out"}, conn=conn)
                if rr.status != 200:
                    errors.append(rr)
        finally:
            conn.close()
    threads = [threading.Thread(target=writer, args=(k,)) for k in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    c.eq("1,100 concurrent consent writes: all 200", errors, [])
    r, evs2 = audit_events(d)
    c.eq("audit streams more than 512 events", len(evs2), len(evs) + 2 + 1100)
    c.check("audit stream in order past chunk boundaries", [e["seq"] for e in evs2] == list(range(1, len(evs2) + 1)))

    # ---- metrics ----
    r = d.get("/metrics")
    c.eq("metrics: 200 text/plain", (r.status, r.header("content-type").split(";")[0]), (200, "text/plain"))
    m = r.body.decode()
    c.check("metrics: requests by endpoint and status", 'stopgate_requests_total{endpoint="check",status="200"}' in m)
    c.check("metrics: 404s counted", 'endpoint="other",status="404"' in m)
    c.check("metrics: verdicts by reason", 'stopgate_check_verdicts_total{reason="opted_out"}' in m)
    c.check("metrics: inbound intents", 'stopgate_inbound_intents_total{intent="opt_out"}' in m)
    c.check("metrics: commit batch histogram", "stopgate_commit_batch_size_bucket{le=\"+Inf\"}" in m)
    c.check("metrics: commit latency histogram", "stopgate_commit_latency_seconds_sum" in m)
    c.check("metrics: writer queue depth", "stopgate_writer_queue_depth " in m)
    batches = float([ln for ln in m.splitlines() if ln.startswith("stopgate_commit_batch_size_count")][0].split()[1])
    events = float([ln for ln in m.splitlines() if ln.startswith("stopgate_commit_batch_size_sum")][0].split()[1])
    print(f"note: {events} events in {batches} commits")
    c.check("group commit: fewer commits than events under concurrency", batches < events, (batches, events))


run("test_api", test)
