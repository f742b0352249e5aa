# SPDX-License-Identifier: Apache-2.0
"""The send ledger over real HTTP (issue 17): POST /v1/sends with errors per
item, sends before and after an opt-out (exactly the later ones, less the
one confirmation, are violations), a Twilio status callback and the
gateway's own report of the same message counted once, the Florida cap in
the violations report, CSV and the `stopgate violations` command, and
`stopgate verify` passing on the store afterwards."""
import csv
import io
import json
import os
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

sys.path.insert(0, os.path.dirname(__file__))
from sgtest import Daemon, run  # noqa: E402

OURS = "+14155550100"
THEM = "+14155552671"
FLORIDA = "+13055550123"
C1 = {"campaignId": "C1", "brandId": "B1", "status": "ACTIVE"}


def rfc3339(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def violations(d, query=""):
    r = d.get("/v1/violations" + query)
    assert r.status == 200, (r.status, r.body)
    return [json.loads(line) for line in r.body.decode().splitlines() if line]


def body(c, d):
    now = datetime.now(timezone.utc)
    c.eq("campaign", d.put("/v1/campaigns/C1", C1).status, 200)
    c.eq("sender", d.put("/v1/senders/" + OURS, {"campaignId": "C1"}).status, 200)

    # ---- errors per item ----
    r = d.post("/v1/sends", {"sends": [
        {"id": "SM0", "from": OURS, "to": THEM, "at": rfc3339(now - timedelta(hours=2))},
        {"id": "SM-bad-to", "from": OURS, "to": "not a number"},
        {"id": "SM-bad-at", "from": OURS, "to": THEM, "at": "yesterday"},
        {"id": "SM-future", "from": OURS, "to": THEM, "at": rfc3339(now + timedelta(days=1))},
        {"from": OURS},
        {"id": "SM-cat", "from": OURS, "to": THEM, "category": "promo"},
    ]})
    c.eq("mixed batch: 200", r.status, 200)
    j = r.json()
    res = j["results"]
    c.eq("mixed batch: one recorded", (j["recorded"], j["rejected"]), (1, 5))
    c.check("item 0 recorded with an ordinal", res[0].get("ordinal") == 1, res[0])
    c.eq("item 1: the field and the fix", (res[1]["error"], res[1]["field"]), ("invalid_number", "to"))
    c.check("item 1: detail says how", "E.164" in res[1]["detail"], res[1])
    c.eq("item 2: at", (res[2]["error"], res[2]["field"]), ("invalid_field", "at"))
    c.check("item 3: a time ahead of the clock", res[3]["error"] == "invalid_field" and "5 minutes" in res[3]["detail"],
            res[3])
    c.eq("item 4: to required", (res[4]["error"], res[4]["field"]), ("missing_field", "to"))
    c.eq("item 5: category", res[5]["field"], "category")
    r = d.post("/v1/sends", {"sends": [{"from": OURS, "to": "x"}]})
    c.eq("nothing recordable: 422", r.status, 422)
    c.eq("no sends array: 422", d.post("/v1/sends", {"send": []}).status, 422)
    big = [{"from": OURS, "to": THEM}] * 10001
    r = d.post("/v1/sends", {"sends": big})
    c.check("over 10,000: 422 naming the limit", r.status == 422 and b"10000" in r.body, (r.status, r.body[:200]))
    r = d.request("POST", "/v1/sends", body=b"{}", headers={"Content-Type": "text/plain"})
    c.eq("not JSON: 415", r.status, 415)

    # ---- before and after an opt-out ----
    r = d.post("/v1/consent", {"from": OURS, "to": THEM, "action": "opt_out", "source": "api", "note": "test"})
    c.eq("opt-out recorded", r.status, 200)
    stop_seq = r.json()["event"]
    batch = [{"id": "SMconfirm", "from": OURS, "to": THEM},
             {"id": "SMb", "from": OURS, "to": THEM},
             {"id": "SMc", "from": OURS, "to": THEM, "category": "marketing"}]
    r = d.post("/v1/sends", {"sends": batch})
    c.eq("after the opt-out: 3 recorded", (r.status, r.json().get("recorded")), (200, 3))
    v = violations(d)
    ids = [x["ordinal"] for x in v]
    ords = [x["ordinal"] for x in r.json()["results"]]
    c.eq("exactly the later ones, less the confirmation", ids, ords[1:])
    c.check("each names the opt-out event", all(x["reason"] == "opted_out" and x["event_seq"] == stop_seq for x in v),
            v)

    # ---- a status callback and the gateway's report of the same message: once ----
    def twilio_status(sid, st="delivered", to=THEM):
        form = urlencode({"MessageSid": sid, "AccountSid": "AC1", "MessageStatus": st, "From": OURS,
                          "To": to}).encode()
        return d.request("POST", "/v1/webhooks/twilio/status", body=form,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    c.eq("status callback for SMb: 200", twilio_status("SMb").status, 200)
    c.eq("SMb counted once", len(violations(d)), 2)
    c.eq("status callback for a message the gateway did not report: 200", twilio_status("SMd").status, 200)
    c.eq("... is recorded as a send (a third violation)", len(violations(d)), 3)
    c.eq("a 'queued' status is no send", twilio_status("SMe", st="queued").status, 200)
    c.eq("... nothing recorded", len(violations(d)), 3)
    r = d.post("/v1/sends", {"sends": [{"id": "SMd", "from": OURS, "to": THEM}]})
    c.eq("the gateway's late report of SMd: a duplicate", (r.json()["duplicates"], r.json()["recorded"]), (1, 0))

    # the consent proof lists the sends after the opt-out
    r = d.get(f"/v1/consent?from={OURS.replace('+', '%2B')}&to={THEM.replace('+', '%2B')}")
    c.eq("proof: 200", r.status, 200)
    c.eq("proof: the 4 sends after the opt-out", len(r.json()["sends_after_optout"]), 4)

    # ---- Florida: a 4th marketing send in 24 h ----
    t0 = now - timedelta(hours=5)
    fl = [{"id": f"FL{i}", "from": OURS, "to": FLORIDA, "category": "marketing",
           "at": rfc3339(t0 + timedelta(hours=i))} for i in range(4)]
    fl.append({"id": "FLinfo", "from": OURS, "to": FLORIDA, "category": "informational",
               "at": rfc3339(t0 + timedelta(hours=3, minutes=30))})
    r = d.post("/v1/sends", {"sends": fl})
    c.eq("florida: 5 recorded", r.json()["recorded"], 5)
    fourth = r.json()["results"][3]["ordinal"]
    v = [x for x in violations(d) if x["to"] == FLORIDA]
    c.eq("florida: only the 4th marketing send", [x["ordinal"] for x in v], [fourth])
    c.check("florida: frequency_cap, FL rule, count 4, since the first",
            v and v[0]["reason"] == "frequency_cap" and v[0]["rule"] == "FL" and v[0]["count"] == 4
            and v[0]["since"].startswith(rfc3339(t0)[:19]), v)

    # the check: a 5th marketing message now is denied until the first counted one leaves the window
    fl_q = f"/v1/check?from={OURS.replace('+', '%2B')}&to={FLORIDA.replace('+', '%2B')}"
    j = d.get(fl_q + "&category=marketing").json()
    c.eq("check: frequency_cap", (j["allow"], j["reason"]), (False, "frequency_cap"))
    c.eq("check: the cap's subject is the scope (the sender's campaign)", j.get("scope"),
         {"kind": "campaign", "id": "C1"})
    # counted: FL0..FL3 at t0+0..3 h; the 3rd-newest-but-one (FL1, t0+1 h) leaving lets one more in
    c.check("check: next_allowed_at when enough have left the window",
            j.get("next_allowed_at", "").startswith(rfc3339(t0 + timedelta(hours=25))[:19]), j)
    j = d.get(fl_q + "&category=informational").json()
    c.eq("check: informational is not capped", j["allow"], True)
    j = d.get(fl_q + "&category=marketing&campaign=C9").json()
    c.eq("check: another subject is not capped", j["allow"], True)
    j = d.post("/v1/check", {"from": OURS, "to": [FLORIDA, "+14155552699"], "category": "marketing"}).json()["results"]
    c.eq("batch check: marketing is capped", [(x["allow"], x["reason"]) for x in j],
         [(False, "frequency_cap"), (True, None)])
    # the category resolves as for quiet hours (parameter, campaign usecase, policy
    # defaultCategory): a sender with none given is not judged as marketing
    j = d.post("/v1/check", {"from": OURS, "to": [FLORIDA]}).json()["results"]
    c.eq("batch check: no category, no campaign usecase: not capped", [(x["allow"], x["reason"]) for x in j],
         [(True, None)])
    c.eq("check: a bad category is 422", d.get(fl_q + "&category=promo").status, 422)

    # ---- ranges, CSV, the CLI ----
    since = rfc3339(now - timedelta(minutes=1))
    c.eq("since filters on the send time", len(violations(d, "?since=" + since)), 3)
    r = d.get("/v1/violations?format=csv")
    rows = list(csv.reader(io.StringIO(r.body.decode())))
    c.eq("csv: header", rows[0][:8], ["ordinal", "at", "from", "to", "campaign", "category", "source", "reason"])
    c.eq("csv: one row per violation", len(rows) - 1, 4)
    c.eq("bad since: 422", d.get("/v1/violations?since=soon").status, 422)
    p = d.cli("violations", "--data", d.data, "--format", "jsonl")
    lines = [json.loads(x) for x in p.stdout.decode().splitlines() if x]
    c.eq("stopgate violations: exit 1 when there are some", p.returncode, 1)
    c.eq("stopgate violations: the same 4", len(lines), 4)
    p = d.cli("violations", "--data", d.data, "--until", rfc3339(now - timedelta(hours=3)))
    c.eq("stopgate violations: none before: exit 0", (p.returncode, p.stdout), (0, b""))

    # the store verifies with the ledger in it, sealed at the daemon's stop
    d.stop()
    p = d.cli("verify", "--data", d.data)
    c.check("stopgate verify passes", p.returncode == 0, p.stdout + p.stderr)
    p = d.cli("proof", "--data", d.data, OURS, THEM)
    c.eq("stopgate proof: the sends after the opt-out", len(json.loads(p.stdout)["sends_after_optout"]), 4)
    p = d.cli("export", "audit", "--data", d.data, "--action", "sends")
    seals = [json.loads(x) for x in p.stdout.decode().splitlines() if x]
    c.check("the sends are sealed into the log at the stop",
            seals and seals[-1]["rule"] == "sends_seal" and seals[-1]["note"].startswith("sends=1-"), seals)


def concurrent(c, d):
    """Requests that wait while a batch is recorded go together as the next
    batch: each still gets exactly its own results, in its own order; an id
    sent by two requests at once is recorded once; a request with nothing
    recordable is 422 without failing the others."""
    def metric(name):
        text = d.get("/metrics").body.decode()
        return int(float(next(line.split()[1] for line in text.splitlines() if line.startswith(name + " "))))

    req0, bat0 = metric("stopgate_sends_requests_total"), metric("stopgate_sends_batches_total")
    n, per = 24, 5
    bodies = []
    for k in range(n):
        items = [{"id": f"SMcc{k}-{i}", "from": OURS, "to": f"+1415555{k:02d}{i:02d}"} for i in range(per)]
        if k % 6 == 0:
            items[2] = {"id": f"SMcc{k}-bad", "from": OURS, "to": "bad"}
        if k in (1, 2):
            items[4] = {"id": "SMcc-shared", "from": OURS, "to": "+14155559900"}
        bodies.append(items)
    bodies.append([{"from": OURS, "to": "x"}])  # nothing recordable
    answers = [None] * len(bodies)

    def post(k):
        answers[k] = d.post("/v1/sends", {"sends": bodies[k]})

    threads = [threading.Thread(target=post, args=(k,)) for k in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    c.eq("concurrent: the empty one 422", answers[-1].status, 422)
    c.check("concurrent: every other 200", all(a.status == 200 for a in answers[:-1]),
            [a.status for a in answers[:-1]])
    ordinals, shared = [], []
    for k, a in enumerate(answers[:-1]):
        res = a.json()["results"]
        c.eq(f"concurrent {k}: its own {per} results", len(res), per)
        for i, (item, r) in enumerate(zip(bodies[k], res)):
            if item["to"] == "bad":
                c.eq(f"concurrent {k}.{i}: its error", r.get("field"), "to")
            elif item["id"] == "SMcc-shared":
                shared.append(r["duplicate"])
            else:
                c.check(f"concurrent {k}.{i}: recorded", "ordinal" in r and not r["duplicate"], r)
                ordinals.append(r["ordinal"])
    c.eq("concurrent: every ordinal once", len(set(ordinals)), len(ordinals))
    c.eq("concurrent: the shared id recorded once", sorted(shared), [False, True])
    req1, bat1 = metric("stopgate_sends_requests_total"), metric("stopgate_sends_batches_total")
    c.eq("concurrent: every request handed to the writer", req1 - req0, n + 1)
    c.check("concurrent: never more batches than requests", 0 < bat1 - bat0 <= req1 - req0, (bat1 - bat0, req1 - req0))
    print(f"  {req1 - req0} concurrent requests in {bat1 - bat0} transactions", flush=True)


def main(c):
    # quiet hours off: this test is about the caps, whatever the hour it runs at
    d = Daemon(config={"allowUnsignedWebhooks": True, "publicBaseUrl": "http://127.0.0.1",
                       "quietHours": "none"}).start()
    try:
        body(c, d)
    finally:
        d.cleanup()
    d = Daemon(config={"quietHours": "none"}).start()
    try:
        concurrent(c, d)
    finally:
        d.cleanup()


run("sends", main)
