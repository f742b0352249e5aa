#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The review queue end to end (issue 13), against the real binary and a
real store: probable revocations held for review under probable: review
(exact and phrase revocations still opt out), GET /v1/review with paging,
POST /v1/review/{event} (opt_out records the opt-out, none does not),
404 / 409 / 400 / 401 / 415, the audit export showing the resolution, the
queue after a restart, and `stopgate review list|show|resolve` beside a
running daemon and on its own."""
import json
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sgtest import Daemon, q, run  # noqa: E402

OURS = "+14155550100"
TOKEN = "op-secret-1"
H = ["+14155550301", "+14155550302", "+14155550303"]
ITEM_KEYS = {"event", "at", "from", "to", "body", "intent", "confidence", "rule", "score", "campaign"}


def classify(d, text):
    p = d.cli("classify", "--keywords", d.kw, text)
    try:
        return json.loads(p.stdout.decode().splitlines()[0])
    except (ValueError, IndexError):
        return {}


def pick(d, confidence, candidates):
    for t in candidates:
        cl = classify(d, t)
        if cl.get("intent") == "opt_out" and cl.get("confidence") == confidence:
            return t
    return None


def inbound(d, body, msg_id, frm):
    return d.post("/v1/inbound", {"provider": "gateway", "id": msg_id, "from": frm, "to": OURS, "body": body})


def allowed(d, to):
    return d.get(f"/v1/check?from={q(OURS)}&to={q(to)}").json()["allow"]


def resolve(d, seq, obj, **kw):
    return d.post(f"/v1/review/{seq}", obj, **kw)


def cli(d, *args):
    p = d.cli(*args, "--data", d.data, "--keywords", d.kw)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def review_metrics(d):
    """(stopgate_review_pending, stopgate_review_oldest_pending_age_seconds) from /metrics."""
    got = {}
    for line in d.get("/metrics").body.decode().splitlines():
        name, _, value = line.partition(" ")
        if name in ("stopgate_review_pending", "stopgate_review_oldest_pending_age_seconds"):
            got[name] = float(value)
    return (got.get("stopgate_review_pending"), got.get("stopgate_review_oldest_pending_age_seconds"))


def body(c, d):
    d.start()
    prob = pick(d, "probable", ["I said stop", "ugh stop it already", "ok stop it lol", "stop it already"])
    if not c.check("the keyword set has a probable revocation text", prob is not None):
        return
    # ---- what a reasonable person reads as revocation opts out, not queued ----
    r = inbound(d, "STOP", "x1", "+14155550390")
    c.eq("exact STOP under probable: review still opts out", r.json()["action"], "opt_out")
    phrase = pick(d, "phrase", ["Please stop texting me.", "stop texting me", "unsubscribe me please"])
    if c.check("the keyword set has a phrase revocation", phrase is not None):
        r = inbound(d, phrase, "x2", "+14155550391")
        c.eq("a phrase revocation under probable: review still opts out", r.json()["action"], "opt_out")
    stop_seq = d.get("/v1/audit").body.decode().splitlines()
    stop_seq = json.loads(stop_seq[0])["seq"]

    seqs = []
    for i, h in enumerate(H):
        r = inbound(d, prob, f"m{i}", h)
        c.eq(f"probable revocation {i} held for review", (r.status, r.json()["action"]), (200, "review"))
        seqs.append(r.json()["event"])
    c.check("held: consent unchanged", all(allowed(d, h) for h in H))

    # ---- GET /v1/review ----
    r = d.get("/v1/review")
    c.eq("list: 200", r.status, 200)
    doc = r.json()
    c.eq("list: the three pending, oldest first", [it["event"] for it in doc["items"]], seqs)
    c.eq("list: no next page", doc["next"], None)
    c.eq("metrics: three pending, the oldest some time ago", review_metrics(d)[0], 3)
    c.check("metrics: the oldest pending has an age", review_metrics(d)[1] > 0, review_metrics(d))
    it = doc["items"][0]
    c.eq("item: the contract's members", set(it), ITEM_KEYS)
    c.eq("item: from the handset to our number", (it["from"], it["to"]), (H[0], OURS))
    c.eq("item: the message", (it["body"], it["intent"], it["confidence"]), (prob, "opt_out", "probable"))
    c.check("item: an RFC 3339 time and the rule", it["at"].endswith("Z") and "T" in it["at"] and it["rule"], it)
    c.eq("item: no campaign for an unregistered sender", it["campaign"], None)
    c.check("item: the score is the rule's calibrated one, as classify gives it",
            0 < it["score"] < 1 and it["score"] == classify(d, prob).get("score"), (it, classify(d, prob)))
    r = d.get("/v1/review?limit=2")
    page1 = r.json()
    c.eq("page 1: two, next is the last given", ([x["event"] for x in page1["items"]], page1["next"]),
         (seqs[:2], seqs[1]))
    page2 = d.get(f"/v1/review?limit=2&after={page1['next']}").json()
    c.eq("page 2: the rest, no next", ([x["event"] for x in page2["items"]], page2["next"]), (seqs[2:], None))
    for bad in ("limit=0", "limit=201", "limit=abc", "after=-1", "after=1x"):
        r = d.get(f"/v1/review?{bad}")
        c.eq(f"list {bad}: 400 naming the parameter", (r.status, bad.split("=")[0] in r.json()["detail"]),
             (400, True))

    # ---- auth: the operator token ----
    r = d.get("/v1/review", headers={"Authorization": "Bearer wrong"})
    c.eq("list without the token: 401", r.status, 401)
    r = resolve(d, seqs[0], {"decision": "opt_out", "by": "x", "note": "y"}, headers={"Authorization": ""})
    c.eq("resolve without the token: 401", r.status, 401)
    c.check("... nothing recorded", allowed(d, H[0]))

    # ---- 400, 404, 415 ----
    good = {"decision": "opt_out", "by": "Dana Q.", "note": "a clear revocation"}
    r = d.request("POST", f"/v1/review/{seqs[0]}", body=b'{"decision": "opt_out",',
                  headers={"Content-Type": "application/json"})
    c.eq("bad JSON: 400 with the position", (r.status, "byte" in r.json()["detail"]), (400, True))
    r = resolve(d, seqs[0], ["opt_out"])
    c.eq("not an object: 400", r.status, 400)
    for name in ("decision", "by", "note"):
        obj = {k: v for k, v in good.items() if k != name}
        r = resolve(d, seqs[0], obj)
        c.eq(f"missing {name}: 400 naming it", (r.status, r.json()["error"], r.json()["detail"].startswith(name)),
             (400, "missing_field", True))
    for name, value in (("decision", "maybe"), ("decision", 1), ("by", "a;b"), ("by", ""), ("by", "x" * 65),
                        ("note", "n" * 1025), ("note", "bell\x07")):
        r = resolve(d, seqs[0], dict(good, **{name: value}))
        c.eq(f"{name}={str(value)[:12]!r}: 400 naming it", (r.status, r.json()["detail"].startswith(name)),
             (400, True))
    r = d.request("POST", f"/v1/review/{seqs[0]}", body=json.dumps(good).encode(),
                  headers={"Content-Type": "text/plain"})
    c.eq("not JSON content: 415", r.status, 415)
    c.check("... none of them recorded anything", allowed(d, H[0]))
    for path in ("99999", str(stop_seq), "abc", "0"):
        r = resolve(d, path, good)
        c.eq(f"resolve {path}: 404", (r.status, r.json()["error"]), (404, "not_found"))
    r = d.get(f"/v1/review/{seqs[0]}")
    c.eq("GET one: 405 (POST only)", r.status, 405)

    # ---- resolve ----
    r = resolve(d, seqs[0], good)
    c.eq("resolve opt_out: 200", r.status, 200)
    res0 = r.json()
    c.eq("resolve: the contract's answer", (set(res0), res0["resolved"], res0["decision"]),
         ({"event", "resolved", "decision"}, seqs[0], "opt_out"))
    c.check("resolve: a new event after the review", res0["event"] > seqs[-1], res0)
    c.eq("opt_out: the person is opted out", allowed(d, H[0]), False)
    r = resolve(d, seqs[0], dict(good, decision="none"))
    c.eq("resolved twice: 409 naming the resolution", (r.status, r.json()["error"], str(res0["event"]) in r.json()["detail"]),
         (409, "already_resolved", True))
    r = resolve(d, seqs[1], {"decision": "none", "by": "Dana Q.", "note": "asked about the bus stop"})
    c.eq("resolve none: 200", (r.status, r.json()["decision"]), (200, "none"))
    res1 = r.json()
    c.eq("none: consent unchanged", allowed(d, H[1]), True)
    c.eq("list: only the third pending", [x["event"] for x in d.get("/v1/review").json()["items"]], [seqs[2]])

    # ---- the audit export shows it ----
    evs = {e["seq"]: e for e in (json.loads(x) for x in d.get("/v1/audit").body.decode().splitlines() if x)}
    e0 = evs.get(res0["event"], {})
    c.eq("audit: the resolution event", (e0.get("action"), e0.get("source"), e0.get("rule"), e0.get("recipient")),
         ("review_resolved", "operator", "review:opt_out", H[0]))
    c.eq("audit: decision, by, note and the resolved event", e0.get("review"),
         {"resolved": seqs[0], "decision": "opt_out", "by": "Dana Q.", "note": "a clear revocation"})
    c.eq("audit: the none resolution too", evs.get(res1["event"], {}).get("review", {}).get("decision"), "none")
    c.eq("audit: the review event itself is unchanged", evs[seqs[0]]["action"], "review")
    csv_text = d.get("/v1/audit?format=csv").body.decode()
    c.check("audit csv: the resolution's note cell", f"review={seqs[0]}; by=Dana Q.; why=a clear revocation" in csv_text)
    proof = d.get(f"/v1/consent?from={q(OURS)}&to={q(H[0])}").json()
    c.eq("consent proof: opted out by the resolution",
         (proof["verdict"]["reason"], [e["action"] for e in proof["events"]]), ("opted_out", ["review", "review_resolved"]))

    # ---- the CLI beside the running daemon ----
    rc, out, err = cli(d, "review", "list")
    c.eq("cli list beside the daemon: the same pending", (rc, [x["event"] for x in json.loads(out)["items"]]),
         (0, [seqs[2]]))
    c.eq("cli list: the same item as HTTP", json.loads(out)["items"], d.get("/v1/review").json()["items"])
    rc, out, err = cli(d, "review", "show", str(seqs[0]))
    shown = json.loads(out) if rc == 0 else {}
    c.eq("cli show: resolved, with who and why", (shown.get("state"), (shown.get("resolution") or {}).get("by"),
                                                  (shown.get("resolution") or {}).get("note")),
         ("resolved", "Dana Q.", "a clear revocation"))
    rc, out, err = cli(d, "review", "resolve", str(seqs[2]), "--decision", "opt_out", "--by", "cli", "--note", "x")
    c.check("cli resolve beside the daemon: refused, pointing at the HTTP call",
            rc == 2 and "POST /v1/review" in err, (rc, err))

    # ---- restart: the queue and the decisions persist ----
    c.eq("daemon stops cleanly", d.stop(), 0)
    d.start()
    c.eq("after restart: the third still pending", [x["event"] for x in d.get("/v1/review").json()["items"]], [seqs[2]])
    c.eq("after restart: still opted out", allowed(d, H[0]), False)
    c.eq("after restart: still resolved once", resolve(d, seqs[0], good).status, 409)
    c.eq("daemon stops again", d.stop(), 0)

    # ---- the CLI on its own ----
    rc, out, err = cli(d, "review", "resolve", str(seqs[2]), "--decision", "opt_out", "--by", "ops team",
                       "--note", "cancel-like wording")
    res2 = json.loads(out) if rc == 0 else {}
    c.eq("cli resolve: the same answer as HTTP", (rc, res2.get("resolved"), res2.get("decision")),
         (0, seqs[2], "opt_out"))
    rc, out, err = cli(d, "review", "resolve", str(seqs[2]), "--decision", "none", "--by", "b", "--note", "n")
    c.check("cli resolve twice: refused", rc == 2 and "already resolved" in err, (rc, err))
    rc, out, err = cli(d, "review", "resolve", "99999", "--decision", "none", "--by", "b", "--note", "n")
    c.check("cli resolve of no review event: refused", rc == 2 and "no review event" in err, (rc, err))
    rc, out, err = cli(d, "review", "resolve", str(seqs[2]), "--decision", "none", "--note", "n")
    c.check("cli resolve without --by: refused", rc == 2 and "--by" in err, (rc, err))
    rc, out, err = cli(d, "review", "resolve", str(seqs[2]), "--decision", "none", "--by", "a;b", "--note", "n")
    c.check("cli resolve with a bad --by: the rule", rc == 2 and "--by:" in err, (rc, err))
    rc, out, err = cli(d, "review", "list")
    c.eq("cli list: nothing pending", (rc, json.loads(out) if rc == 0 else out), (0, {"items": [], "next": None}))
    rc, out, err = cli(d, "check", OURS, H[2])
    c.eq("cli: the person the CLI resolved is opted out", rc, 1)
    rc, out, err = cli(d, "export", "audit", "--action", "review_resolved")
    reviews = [json.loads(x)["review"] for x in out.splitlines() if x]
    c.eq("cli export audit: every resolution, who and why",
         [(x["resolved"], x["decision"], x["by"]) for x in reviews],
         [(seqs[0], "opt_out", "Dana Q."), (seqs[1], "none", "Dana Q."), (seqs[2], "opt_out", "ops team")])
    rc, out, err = cli(d, "verify")
    c.eq("the log still verifies", rc, 0)
    d.start()
    c.eq("daemon after the CLI: nothing pending", d.get("/v1/review").json(), {"items": [], "next": None})
    c.eq("metrics: nothing pending, no age", review_metrics(d), (0, 0.0))
    c.eq("daemon after the CLI: opted out", allowed(d, H[2]), False)

    # ---- two reviewers at once: one decision counts ----
    r = inbound(d, prob, "m9", "+14155550309")
    seq4 = r.json()["event"]
    answers = [None, None]

    def post(i, decision):
        answers[i] = resolve(d, seq4, {"decision": decision, "by": f"reviewer {i}", "note": "same time"})

    threads = [threading.Thread(target=post, args=(0, "opt_out")), threading.Thread(target=post, args=(1, "none"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    c.eq("two resolutions at once: one 200, one 409", sorted(a.status for a in answers), [200, 409])
    won = next(a.json() for a in answers if a.status == 200)
    c.eq("... and the state is the winner's", allowed(d, "+14155550309"), won["decision"] == "none")
    evs = [json.loads(x) for x in d.get(f"/v1/audit?after_seq={seq4}").body.decode().splitlines() if x]
    c.eq("... one resolution recorded", [e["action"] for e in evs], ["review_resolved"])

    # ---- a probable opt-in is held for a person too, whatever the policy ----
    optin = None
    for t in ["please text me again, I miss the deals", "i want the texts again please",
              "can you start sending me your msgs again", "put me back on the texts, I miss them"]:
        cl = classify(d, t)
        if cl.get("intent") == "opt_in" and cl.get("confidence") == "probable":
            optin = t
            break
    if not c.check("the classifier has a probable opt-in text", optin is not None):
        return
    who = "+14155550320"
    r = inbound(d, "STOP", "o1", who)
    c.eq("the person opted out", (r.json()["action"], allowed(d, who)), ("opt_out", False))
    r = inbound(d, optin, "o2", who)
    c.eq("a probable opt-in is held for review, not applied", (r.status, r.json()["action"]), (200, "review"))
    c.eq("... consent unchanged: still opted out", allowed(d, who), False)
    seq5 = r.json()["event"]
    it = next((x for x in d.get(f"/v1/review?after={seq5 - 1}").json()["items"] if x["event"] == seq5), None)
    c.check("listed as a probable opt-in", it is not None and (it["intent"], it["confidence"]) == ("opt_in", "probable"),
            it)
    code, out, _ = cli(d, "review", "show", str(seq5))
    c.check("the CLI shows it as an opt-in", code == 0 and json.loads(out).get("intent") == "opt_in", out)
    r = resolve(d, seq5, {"decision": "opt_in", "by": "Dana Q.", "note": "asked to get the deals again"})
    c.eq("resolved as opt_in: 200", (r.status, r.json().get("decision")), (200, "opt_in"))
    c.eq("... the person's own opt-in lifts their STOP", allowed(d, who), True)
    r = inbound(d, optin, "o3", "+14155550321")
    seq6 = r.json()["event"]
    r = resolve(d, seq6, {"decision": "none", "by": "Dana Q.", "note": "about a product, not the texts"})
    c.eq("resolved as none: consent unchanged", (r.status, r.json().get("decision")), (200, "none"))
    r = resolve(d, seq6, {"decision": "maybe", "by": "x", "note": "y"})
    c.check("a wrong decision names the three", r.status in (400, 409), r.status)
    d2 = Daemon(token=TOKEN)
    try:
        d2.start()
        r = d2.post("/v1/inbound", {"provider": "gateway", "id": "p1", "from": "+14155550322", "to": OURS,
                                    "body": optin})
        c.eq("under the default policy (probable: opt_out) too", r.json()["action"], "review")
        r = d2.post(f"/v1/review/{r.json()['event']}", {"decision": "sometimes", "by": "x", "note": "y"})
        c.check("a wrong decision: 400 naming opt_out, opt_in and none",
                r.status == 400 and all(w in r.json()["detail"] for w in ("opt_out", "opt_in", "none")), r.body)
    finally:
        d2.cleanup()


def main(c):
    d = Daemon(config={"policy": {"probable": "review"}}, token=TOKEN)
    try:
        body(c, d)
    finally:
        d.cleanup()


run("review", main)
