# SPDX-License-Identifier: Apache-2.0
"""Provider webhooks against the real daemon: every fixture in
tests/data/webhooks/ with the state it leaves (GET /v1/check, GET
/v1/consent), every signature vector of VECTORS.md (valid, tampered, wrong
key, stale Telnyx timestamp, Twilio with and without :443), a Telnyx retry
de-duplicated, Bandwidth arrays, the status-callback codes, event-time
ordering, Vonage concatenated parts, unsigned providers refused, start-up
errors for bad provider settings."""
import base64
import hashlib
import hmac
import os
import sys
import time
from urllib.parse import parse_qsl, urlencode, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sgtest import Daemon, q, run  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
WH = os.path.join(os.environ.get("SG_TEST_DATA") or os.path.join(HERE, "..", "data"), "webhooks")
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
BASE = "https://optout.example.com"

TWILIO_TOKEN = "test_auth_token_0123456789abcdef"
TELNYX_KEY = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="
TELNYX_KEY_PEM = "MCowBQYDK2VwAyEAA6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="
TELNYX_TS, TELNYX_TS2 = "1548267002", "1548267062"
TELNYX_SIG = "ytYFl80lQxs4wcUScYH8XQsouJUzQgjMfp6BPGNagEkoGWPs02yMZR/nH5gsZHE0EUxJ3cdGkRHMvnF8lAKeBg=="
TELNYX_SIG2 = "NsWOVEomEANXcF2a1AStUxoMkZx7e9kNyx4FXE0YhZ0D83yJrWuKyW9e50xqKybC5ArYmerqbywoqjyUHWIoDA=="
VONAGE_SECRET = "my_secret_key_for_testing"
VONAGE_PARAMS = {"message-timestamp": "2013-11-21 15:27:30", "messageId": "020000001B0FE827",
                 "msisdn": "14843472194", "text": "Test again", "timestamp": "1385047698",
                 "to": "13239877404", "type": "text"}
VONAGE_SIGS = {"md5hash": "d2e7b1dc968737c5998ad624e02f90b7",
               "md5": "DDEBD46008C2D4E93CCE578A332A52D5",
               "sha1": "27D0D05C2876C7CB1720DBCDBA4D492E1E55C09A",
               "sha256": "DDB8397C2B90AAC7F3882D306475C9A5058C92322EEF43C92B298B6E0FC0D330",
               "sha512": "E0D3C650F8C9D1A5C174D10DDDBFB003E561F59B265616208B0487C5D819481CD3C311D59CF6165E"
                         "CD1139622D5BA3A256C0D763AC4A9AD9144B5A426B94FE82"}


def fixture(name):
    with open(os.path.join(WH, name), "rb") as f:
        return f.read()


# ---- the signature algorithms, checked against VECTORS.md before use ----

def twilio_sig(url, body, token):
    pairs = sorted(set(parse_qsl(body.decode(), keep_blank_values=True)))
    s = url + "".join(k + v for k, v in pairs)
    return base64.b64encode(hmac.new(token.encode(), s.encode(), hashlib.sha1).digest()).decode()


def plivo_v3_sig(url, body, nonce, token):
    u = urlsplit(url)
    base = f"{u.scheme}://{u.netloc}{u.path}"
    qs = "&".join(f"{k}={v}" for k, v in sorted(parse_qsl(u.query, keep_blank_values=True)))
    p = "".join(k + v for k, v in sorted(parse_qsl(body.decode(), keep_blank_values=True)))
    s = base + "?" + qs + ("." if qs and p else "") + p + "." + nonce
    return base64.b64encode(hmac.new(token.encode(), s.encode(), hashlib.sha256).digest()).decode()


def vonage_sig(params, secret, method):
    s = "".join(f"&{k}={v.replace('&', '_').replace('=', '_')}" for k, v in sorted(params.items())
                if k != "sig")
    if method == "md5hash":
        return hashlib.md5((s + secret).encode()).hexdigest()
    return hmac.new(secret.encode(), s.encode(), method).hexdigest()


def self_check(c):
    c.eq("vector: twilio-python 1", twilio_sig("https://mycompany.com/myapp.php?foo=1&bar=2",
         b"CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&From=%2B14158675309&To=%2B18005551212",
         "12345"), "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    c.eq("vector: twilio-python 2 (:443)", twilio_sig("https://mycompany.com:443/myapp.php?foo=1&bar=2",
         b"CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&From=%2B14158675309&To=%2B18005551212",
         "12345"), "kvajT1Ptam85bY51eRf/AJRuM3w=")
    c.eq("vector: twilio gist", twilio_sig("https://mycompany.com/myapp.php?foo=1&bar=2",
         b"CallSid=CA1234567890ABCDE&Caller=%2B12349013030&Digits=1234&From=%2B12349013030&To=%2B18005551212",
         "12345"), "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
    c.eq("vector: twilio-inbound-basic.form",
         twilio_sig("https://example.com/c/t/8eb23e93-5ecb-45ba-b726-3b064e0c56ab/receive",
                    fixture("twilio-inbound-basic.form"), "6789"), "sAYRME4u7MHti2sU4rFUW4qFzl4=")
    stop = fixture("twilio-stop-optouttype.form")
    c.eq("vector: twilio STOP", twilio_sig(BASE + "/v1/webhooks/twilio/inbound", stop, TWILIO_TOKEN),
         "mrLxKjlzF4a8mfr+oh5NmTg98Ws=")
    c.eq("vector: twilio STOP :443", twilio_sig("https://optout.example.com:443/v1/webhooks/twilio/inbound",
                                                stop, TWILIO_TOKEN), "eP3ZGjgMS/3eNYPygcKSoIgMk+o=")
    c.eq("vector: plivo V3", plivo_v3_sig("https://example.com/plivo/inbound",
         b"From=14155552671&To=14155550100&Text=STOP&Type=sms&MessageUUID=7a242edc-2f57-11e7-98c9-06ab0bf64327",
         "12345678901234567890", "MY_AUTH_TOKEN"), "0r+kwW2Lw2/tuRIil4y2zoJmpKU8WeIEFdof88ygokg=")
    for m, want in VONAGE_SIGS.items():
        c.eq(f"vector: vonage {m}", vonage_sig(VONAGE_PARAMS, VONAGE_SECRET, m), want.lower())


# ---- helpers ----

def post(d, path, body, ctype=FORM, headers=None):
    h = {"Content-Type": ctype}
    h.update(headers or {})
    return d.request("POST", path, body=body, headers=h)


def check(d, frm, to):
    return d.get(f"/v1/check?from={q(frm)}&to={q(to)}").json()


def consent(d, frm, to):
    return d.get(f"/v1/consent?from={q(frm)}&to={q(to)}").json()


def events(d):
    return d.get("/healthz").json()["events"]


def state(d, frm, to):
    """(reason, [(source, rule, scope)] of the pair's events)"""
    j = consent(d, frm, to)
    return j["verdict"]["reason"], [(e["source"], e["rule"], e["scope"]) for e in j["events"]]


def basic(user, pw):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()}


def daemon(providers=None, allow_unsigned=False, base=BASE, env=None, **cfg):
    config = {"publicBaseUrl": base, "allowUnsignedWebhooks": allow_unsigned, **cfg}
    if providers is not None:
        config["providers"] = providers
    return Daemon(config=config, env=env).start()


def start_fails(c, what, config, env=None, expect=""):
    d = Daemon(config=config, env=env)
    d.start(wait=False)
    try:
        code = d.proc.wait(15)
    except Exception:  # noqa: BLE001
        code = None
    c.check(f"start-up error: {what}", code == 2 and expect in d.log(), f"code={code} log={d.log()[-600:]}")
    d.cleanup()


def with_daemon(c, fn, *a, **kw):
    d = daemon(*a, **kw)
    try:
        fn(c, d)
    finally:
        c.eq(f"{fn.__name__}: clean exit", d.stop(), 0)
        c.check(f"{fn.__name__}: no secret in the log", TWILIO_TOKEN not in d.log() and
                "pass-w0rd" not in d.log() and "MY_AUTH_TOKEN" not in d.log())
        d.cleanup()
    return d


# ---- Twilio ----

def twilio_signed(c, d):
    stop = fixture("twilio-stop-optouttype.form")
    path = "/v1/webhooks/twilio/inbound"
    r = post(d, path, stop, headers={"X-Twilio-Signature": "mrLxKjlzF4a8mfr+oh5NmTg98Ws="})
    c.eq("twilio STOP vector: 200", r.status, 200)
    c.eq("twilio answers text/xml", r.header("content-type"), "text/xml")
    c.eq("twilio answers TwiML <Response/> (no <Message> for STOP)", r.body,
         b'<?xml version="1.0" encoding="UTF-8"?><Response/>')
    reason, evs = state(d, "+14155550100", "+14155552671")
    c.eq("twilio STOP: opted out", reason, "opted_out")
    c.check("twilio OptOutType recorded as provider_signal",
            ("provider_signal", "OptOutType:STOP", "sender") in evs, evs)
    c.check("twilio Messaging Service: also at group scope", ("provider_signal", "OptOutType:STOP", "group") in evs,
            evs)
    n = events(d)
    r = post(d, path, stop, headers={"X-Twilio-Signature": "eP3ZGjgMS/3eNYPygcKSoIgMk+o="})
    c.eq("twilio STOP, signature over the :443 URL: 200", r.status, 200)
    c.eq("twilio duplicate: same TwiML", r.body, b'<?xml version="1.0" encoding="UTF-8"?><Response/>')
    c.eq("twilio duplicate: nothing new", events(d), n)
    for what, body, sig in [
            ("empty-valued keys omitted", stop, "2pkbh9O8dHmD7s20P39pTZqWfC8="),
            ("tampered body", stop.replace(b"Body=STOP", b"Body=STAR"), "mrLxKjlzF4a8mfr+oh5NmTg98Ws="),
            ("wrong key", stop, twilio_sig(BASE + path, stop, "not-the-token")),
            ("other URL", stop, twilio_sig(BASE + "/v1/webhooks/twilio/other", stop, TWILIO_TOKEN))]:
        r = post(d, path, body, headers={"X-Twilio-Signature": sig})
        c.eq(f"twilio {what}: 403", (r.status, r.json()["error"]), (403, "bad_signature"))
        c.check(f"twilio {what}: the detail names the URL signed for and publicBaseUrl",
                "publicBaseUrl" in r.json()["detail"] and BASE + path in r.json()["detail"], r.json())
    r = post(d, path, stop)
    c.eq("twilio without a signature: 403", r.status, 403)
    c.check("twilio without a signature: the detail says which header", "X-Twilio-Signature" in r.json()["detail"],
            r.json())
    c.eq("twilio refused requests recorded nothing", events(d), n)

    # Status callbacks: 21610 without From -> global; with From -> that sender.
    s21610 = fixture("twilio-status-21610.form")
    r = post(d, "/v1/webhooks/twilio", s21610,
             headers={"X-Twilio-Signature": twilio_sig(BASE + "/v1/webhooks/twilio", s21610, TWILIO_TOKEN)})
    c.eq("twilio-status-21610.form: 200 TwiML", (r.status, r.header("content-type")), (200, "text/xml"))
    j = check(d, "+15550009999", "+12028831111")
    c.eq("21610 without From: opted out at global scope", (j["reason"], j["scope"]["kind"]),
         ("opted_out", "global"))
    reason, evs = state(d, "+15550009999", "+12028831111")
    c.check("21610 recorded as provider_signal, rule 21610", ("provider_signal", "21610", "global") in evs, evs)

    def status(sid, code, frm="+14155550100", to="+14155550177", st="undelivered"):
        body = urlencode({"MessageSid": sid, "AccountSid": "AC1", "MessageStatus": st, "ErrorCode": code,
                          "From": frm, "To": to}).encode()
        sig = twilio_sig(BASE + "/v1/webhooks/twilio/status", body, TWILIO_TOKEN)
        return post(d, "/v1/webhooks/twilio/status", body, headers={"X-Twilio-Signature": sig})

    c.eq("21610 with From: 200", status("SMa1", "21610", st="failed").status, 200)
    c.eq("21610 with From: that sender opted out", check(d, "+14155550100", "+14155550177")["reason"],
         "opted_out")
    c.eq("21610 with From: another sender still allowed", check(d, "+14155550101", "+14155550177")["allow"],
         True)
    for code, to in [("30006", "+14155550178"), ("21614", "+14155550179")]:
        c.eq(f"twilio {code}: 200", status("SMb" + code, code, to=to).status, 200)
        j = check(d, "+14155550100", to)
        c.eq(f"twilio {code}: recipient_not_sms_capable", j["reason"], "recipient_not_sms_capable")
        states = [s["state"] for s in consent(d, "+14155550100", to)["scopes"]]
        c.check(f"twilio {code}: never an opt-out", "opted_out" not in states, states)
    n = events(d)
    c.eq("twilio delivered callback: 200", status("SMc1", "", st="delivered").status, 200)
    c.eq("twilio delivered callback: nothing recorded", events(d), n)


def twilio_port_base(c, d):
    """publicBaseUrl with :443: the header signed over the URL without it passes."""
    r = post(d, "/v1/webhooks/twilio/inbound", fixture("twilio-stop-optouttype.form"),
             headers={"X-Twilio-Signature": "mrLxKjlzF4a8mfr+oh5NmTg98Ws="})
    c.eq("twilio, publicBaseUrl with :443, vector without: 200", r.status, 200)
    basic_form = fixture("twilio-inbound-basic.form")
    r = post(d, "/v1/webhooks/twilio", basic_form, headers={
        "X-Twilio-Signature": twilio_sig(BASE + ":443/v1/webhooks/twilio", basic_form, TWILIO_TOKEN)})
    c.eq("twilio, publicBaseUrl with :443, signature with it: 200", r.status, 200)


def twilio_env(c, d):
    for name, to, sender in [("twilio-inbound-basic.form", "+12028831111", "+12028831111"),
                             ("twilio-inbound-shortcode.form", "384387", "sc:US:384387")]:
        body = fixture(name)
        r = post(d, "/v1/webhooks/twilio", body,
                 headers={"X-Twilio-Signature": twilio_sig(BASE + "/v1/webhooks/twilio", body, "6789")})
        c.eq(f"{name} (token from the environment): 200", r.status, 200)
        j = consent(d, sender, "+14133881111")
        c.eq(f"{name}: keys {sender} / +14133881111, allowed",
             (j["sender"], j["recipient"], j["verdict"]["allow"]), (sender, "+14133881111", True))
    help_body = urlencode({"MessageSid": "SMh1", "From": "+14155550150", "To": "+14155550100",
                           "Body": "HELP"}).encode()
    r = post(d, "/v1/webhooks/twilio", help_body,
             headers={"X-Twilio-Signature": twilio_sig(BASE + "/v1/webhooks/twilio", help_body, "6789")})
    c.check("replyWithTwiml: HELP reply as an escaped <Message>",
            r.status == 200 and b"<Response><Message>" in r.body and b"</Message></Response>" in r.body, r)
    stop_body = help_body.replace(b"HELP", b"STOP").replace(b"SMh1", b"SMh2")
    r = post(d, "/v1/webhooks/twilio", stop_body,
             headers={"X-Twilio-Signature": twilio_sig(BASE + "/v1/webhooks/twilio", stop_body, "6789")})
    c.eq("replyWithTwiml: never a <Message> for STOP", r.body, b'<?xml version="1.0" encoding="UTF-8"?><Response/>')
    bad = urlencode({"MessageSid": "SMq1", "From": "not a number", "To": "+14155550100", "Body": "STOP"}).encode()
    r = post(d, "/v1/webhooks/twilio", bad,
             headers={"X-Twilio-Signature": twilio_sig(BASE + "/v1/webhooks/twilio", bad, "6789")})
    c.eq("unparseable handset STOP: still 200", r.status, 200)
    c.check("unparseable handset: recorded under raw: (quarantine)", "handset number did not parse" in d.log())


# ---- Telnyx ----

def telnyx_signed(c, d):
    stop = fixture("telnyx-stop-signed.json")
    h = {"telnyx-timestamp": TELNYX_TS, "telnyx-signature-ed25519": TELNYX_SIG}
    r = post(d, "/v1/webhooks/telnyx", stop, JSON, h)
    c.eq("telnyx signed STOP: 200", r.status, 200)
    c.eq("telnyx answer: intent and reply", (r.json()["intent"], r.json()["reply"] is not None), ("opt_out", True))
    c.eq("telnyx STOP: opted out", check(d, "+18445550001", "+18665550001")["reason"], "opted_out")
    n = events(d)
    r = post(d, "/v1/webhooks/telnyx", fixture("telnyx-stop-signed-attempt2.json"), JSON,
             {"telnyx-timestamp": TELNYX_TS2, "telnyx-signature-ed25519": TELNYX_SIG2})
    c.eq("telnyx retry (meta.attempt 2): 200 duplicate", (r.status, r.json()["duplicate"]), (200, True))
    c.eq("telnyx retry: the same intent as the first answer", r.json()["intent"], "opt_out")
    c.eq("telnyx retry: nothing recorded", events(d), n)
    r = post(d, "/v1/webhooks/telnyx", stop + b"\n", JSON, h)
    c.eq("telnyx tampered body (trailing newline): 403", r.status, 403)
    c.check("telnyx tampered body: the detail says the signature does not verify",
            "does not verify" in r.json()["detail"], r.json())
    r = post(d, "/v1/webhooks/telnyx", stop, JSON, {"telnyx-timestamp": TELNYX_TS})
    c.eq("telnyx without a signature: 403", r.status, 403)
    c.check("telnyx without a signature: the detail names the header", "telnyx-signature-ed25519" in
            r.json()["detail"], r.json())
    c.eq("telnyx refused: nothing recorded", events(d), n)


def telnyx_one(c, what, key, clock, want):
    d = daemon({"telnyx": {"publicKey": key}}, env={"STOPGATE_TEST_CLOCK": str(clock)})
    try:
        r = post(d, "/v1/webhooks/telnyx", fixture("telnyx-stop-signed.json"), JSON,
                 {"telnyx-timestamp": TELNYX_TS, "telnyx-signature-ed25519": TELNYX_SIG})
        c.eq(f"telnyx {what}: {want}", r.status, want)
        if want == 403 and "stale" in what:
            c.check(f"telnyx {what}: the detail says the time window", "window" in r.json()["detail"], r.json())
        if want != 200:
            c.eq(f"telnyx {what}: nothing recorded", events(d), 0)
    finally:
        d.stop()
        d.cleanup()


# ---- Bandwidth ----

def bw_msg(mid, frm, text, t, owner="+15550000001", kind="message-received", code=None, to=None):
    el = {"type": kind, "time": t, "to": to or owner, "description": "",
          "message": {"id": mid, "time": t, "to": [to or owner], "from": frm if not code else owner,
                      "text": text, "owner": owner, "applicationId": "app", "direction": "in"}}
    if code:
        el["errorCode"] = code
        el["message"]["direction"] = "out"
    return el


def bandwidth(c, d):
    import json
    auth = basic("user", "pass-w0rd")
    r = post(d, "/v1/webhooks/bandwidth", fixture("bandwidth-inbound.json"), JSON, auth)
    c.eq("bandwidth-inbound.json: 200", r.status, 200)
    j = consent(d, "+12345678902", "+12065551234")
    c.eq("bandwidth fixture: owner / sender keys, allowed",
         (j["sender"], j["recipient"], j["verdict"]["allow"]), ("+12345678902", "+12065551234", True))
    n = events(d)
    for what, h in [("wrong password", basic("user", "nope")), ("no credentials", {})]:
        r = post(d, "/v1/webhooks/bandwidth", fixture("bandwidth-inbound.json"), JSON, h)
        c.eq(f"bandwidth {what}: 401 challenge", (r.status, r.header("www-authenticate")),
             (401, 'Basic realm="stopgate", charset="UTF-8"'))
    c.eq("bandwidth refused: nothing recorded", events(d), n)

    arr = [bw_msg("bw1", "+15550001111", "STOP", "2024-01-01T00:00:00Z"),
           bw_msg("bw2", "+15550002222", "STOP", "2024-01-01T00:00:01.5Z")]
    r = post(d, "/v1/webhooks/bandwidth", json.dumps(arr).encode(), JSON, auth)
    c.eq("bandwidth two-element array: 200, two messages", (r.status, len(r.json()["messages"])), (200, 2))
    c.eq("bandwidth array: first element opted out", check(d, "+15550000001", "+15550001111")["reason"], "opted_out")
    c.eq("bandwidth array: second element opted out", check(d, "+15550000001", "+15550002222")["reason"],
         "opted_out")

    # Out of order: START (later event time) arrives first, then the older STOP.
    late = [bw_msg("bw3", "+15550003333", "START", "2024-02-01T10:00:05Z")]
    early = [bw_msg("bw4", "+15550003333", "STOP", "2024-02-01T10:00:00Z")]
    post(d, "/v1/webhooks/bandwidth", json.dumps(late).encode(), JSON, auth)
    r = post(d, "/v1/webhooks/bandwidth", json.dumps(early).encode(), JSON, auth)
    c.eq("out-of-order STOP: 200", r.status, 200)
    c.eq("START newer than STOP by event time: allowed", check(d, "+15550000001", "+15550003333")["allow"], True)
    post(d, "/v1/webhooks/bandwidth", json.dumps([bw_msg("bw5", "+15550004444", "STOP",
                                                          "2024-02-01T10:00:05Z")]).encode(), JSON, auth)
    post(d, "/v1/webhooks/bandwidth", json.dumps([bw_msg("bw6", "+15550004444", "START",
                                                          "2024-02-01T10:00:00Z")]).encode(), JSON, auth)
    c.eq("STOP newer than START by event time: opted out", check(d, "+15550000001", "+15550004444")["reason"],
         "opted_out")

    st = [bw_msg("bw7", "", "", "2024-03-01T00:00:00Z", kind="message-failed", code=4775, to="+15550005555"),
          bw_msg("bw8", "", "", "2024-03-01T00:00:00Z", kind="message-failed", code=4720, to="+15550006666"),
          {"type": "something-new", "message": {}}]
    r = post(d, "/v1/webhooks/bandwidth", json.dumps(st).encode(), JSON, auth)
    c.eq("bandwidth status array: 200", r.status, 200)
    reason, evs = state(d, "+15550000001", "+15550005555")
    c.eq("bandwidth 4775: opted out, provider_signal", (reason, ("provider_signal", "4775") in
                                                         [e[:2] for e in evs]), ("opted_out", True))
    j = consent(d, "+15550000001", "+15550006666")
    c.eq("bandwidth 4720: recipient_not_sms_capable, no opt-out",
         (j["verdict"]["reason"], [s["state"] for s in j["scopes"] if s["state"] == "opted_out"]),
         ("recipient_not_sms_capable", []))
    c.eq("bandwidth unknown event type: ignored", r.json()["messages"][2]["kind"], "ignored")


# ---- Plivo ----

def plivo(c, d):
    def send(body, path="/v1/webhooks/plivo", token="MY_AUTH_TOKEN", nonce="12345678901234567890"):
        sig = plivo_v3_sig(BASE + path, body, nonce, token)
        return post(d, path, body, headers={"X-Plivo-Signature-V3": sig, "X-Plivo-Signature-V3-Nonce": nonce})

    r = send(fixture("plivo-inbound-1.form"))
    c.eq("plivo-inbound-1.form (V3 signed): 200", r.status, 200)
    m = r.json()["messages"][0]
    c.eq("plivo-inbound-1: sc:MY:2020 / +60124361111", (m["sender"], m["recipient"]), ("sc:MY:2020", "+60124361111"))
    c.eq("plivo-inbound-1: allowed", check(d, "sc:MY:2020", "+60124361111")["allow"], True)
    stop = b"From=60124360001&To=2020&Text=STOP&Type=sms&MessageUUID=pl-stop-1"
    r = send(stop)
    c.eq("plivo STOP: opted out", check(d, "sc:MY:2020", "+60124360001")["reason"], "opted_out")
    n = events(d)
    c.eq("plivo wrong key: 403", send(stop.replace(b"pl-stop-1", b"pl-stop-2"), token="x").status, 403)
    r = post(d, "/v1/webhooks/plivo", stop.replace(b"pl-stop-1", b"pl-stop-3"),
             headers={"X-Plivo-Signature-V3": plivo_v3_sig(BASE + "/v1/webhooks/plivo", stop, "1", "MY_AUTH_TOKEN"),
                      "X-Plivo-Signature-V3-Nonce": "1"})
    c.eq("plivo tampered body (signature of another): 403", r.status, 403)
    c.eq("plivo refused: nothing recorded", events(d), n)
    r = send(b"MessageUUID=u200&Status=failed&ErrorCode=200&From=2020&To=60124360002")
    c.eq("plivo status ErrorCode 200: opted out (provider_signal)",
         state(d, "sc:MY:2020", "+60124360002")[0], "opted_out")
    r = send(b"From=60124360003&To=2020&Text=hello&Type=sms&MessageUUID=pl-int&MessageIntent=optout")
    c.eq("plivo MessageIntent=optout recorded although the text is no keyword",
         state(d, "sc:MY:2020", "+60124360003"), ("opted_out", [("provider_signal", "MessageIntent:optout", "sender")]))


def plivo_us(c, d):
    r = post(d, "/v1/webhooks/plivo", fixture("plivo-inbound-2.form"))
    c.eq("plivo-inbound-2.form (unsigned allowed): 200", r.status, 200)
    m = r.json()["messages"][0]
    c.eq("plivo-inbound-2: +14759440448 / +14795961111", (m["sender"], m["recipient"]),
         ("+14759440448", "+14795961111"))


# ---- Vonage ----

def vonage_vector(c, method):
    d = daemon({"vonage": {"signatureSecret": VONAGE_SECRET, "signatureMethod": method, "country": "US"}},
               env={"STOPGATE_TEST_CLOCK": "1385047700"})
    try:
        params = dict(VONAGE_PARAMS, sig=VONAGE_SIGS[method])
        r = d.get("/v1/webhooks/vonage?" + urlencode(params))
        c.eq(f"vonage {method} vector (GET): 200", r.status, 200)
        c.eq(f"vonage {method}: keys", (r.json()["messages"][0]["sender"], r.json()["messages"][0]["recipient"]),
             ("+13239877404", "+14843472194"))
        bad = dict(params, text="Test agaiN")
        r = post(d, "/v1/webhooks/vonage", urlencode(bad).encode())
        c.eq(f"vonage {method} tampered (POST form): 403", r.status, 403)
        r = post(d, "/v1/webhooks/vonage", urlencode(dict(VONAGE_PARAMS, messageId="x2")).encode())
        c.eq(f"vonage {method} unsigned: 403", r.status, 403)
    finally:
        d.stop()
        d.cleanup()


def vonage(c, d):
    r = post(d, "/v1/webhooks/vonage", fixture("vonage-inbound.form"))
    c.eq("vonage-inbound.form: 200", r.status, 200)
    m = r.json()["messages"][0]
    c.eq("vonage fixture: sc:NG:2020 / +2349067554729, JOIN is an opt-in",
         (m["sender"], m["recipient"], m["intent"]), ("sc:NG:2020", "+2349067554729", "opt_in"))
    r = d.get("/v1/webhooks/vonage?msisdn=2348030000009&to=2020&messageId=st9&status=failed&err-code=9"
              "&message-timestamp=2024-01-01+00%3A00%3A00")
    c.eq("vonage err-code 9: opted out", state(d, "sc:NG:2020", "+2348030000009")[0], "opted_out")

    def part(mid, n, text, ref="77", frm="2348030000001"):
        return d.get("/v1/webhooks/vonage?" + urlencode({
            "msisdn": frm, "to": "2020", "messageId": mid, "text": text, "concat": "true",
            "concat-ref": ref, "concat-total": "2", "concat-part": str(n)}))

    r = part("c2", 2, "op texting me")
    c.eq("vonage part 2 of 2 first: waiting", r.json()["messages"][0]["concat"]["state"], "waiting")
    c.eq("vonage part alone: still allowed", check(d, "sc:NG:2020", "+2348030000001")["allow"], True)
    r = part("c1", 1, "hello please st")
    c.eq("vonage part 1 completes it: opt-out on the joined text", r.json()["intent"], "opt_out")
    c.eq("vonage joined STOP phrase: opted out", check(d, "sc:NG:2020", "+2348030000001")["reason"], "opted_out")
    n = events(d)
    r = part("c2", 2, "op texting me")
    c.eq("vonage repeated part after the whole: same answer", (r.json()["intent"], r.json()["duplicate"]),
         ("opt_out", True))
    c.eq("vonage repeated part: nothing new", events(d), n)


def vonage_timeout(c, d):
    r = d.get("/v1/webhooks/vonage?" + urlencode({
        "msisdn": "2348030000002", "to": "2020", "messageId": "t1", "text": "STOP sending me these",
        "concat": "true", "concat-ref": "5", "concat-total": "3", "concat-part": "1"}))
    c.eq("vonage part 1 of 3: waiting", r.json()["messages"][0]["concat"]["state"], "waiting")
    time.sleep(5.3)
    r = d.get("/v1/webhooks/vonage?msisdn=2348030000003&to=2020&messageId=t9&text=hi")
    c.check("vonage timed-out parts recorded with the next request",
            any(m.get("concat", {}).get("state") == "timed_out" for m in r.json()["messages"]), r)
    c.eq("vonage timed-out part: opted out", check(d, "sc:NG:2020", "+2348030000002")["reason"], "opted_out")


# ---- the unsigned ones, every other fixture, status codes ----

def unsigned(c, d):
    import json
    for name, frm, to in [("telnyx-inbound-official.json", "+18445550001", "+18665550001"),
                          ("telnyx-inbound-capture.json", "+17179379708", "+18578698297")]:
        r = post(d, "/v1/webhooks/telnyx", fixture(name), JSON)
        c.eq(f"{name}: 200, intent none", (r.status, r.json()["intent"]), (200, "none"))
        c.eq(f"{name}: allowed", check(d, frm, to)["allow"], True)
    r = post(d, "/v1/webhooks/sinch", fixture("sinch-inbound.json"), JSON)
    c.eq("sinch-inbound.json: +18444651185 / +12067799294",
         (r.json()["messages"][0]["sender"], r.json()["messages"][0]["recipient"]), ("+18444651185", "+12067799294"))
    r = post(d, "/v1/webhooks/aws-sns", fixture("aws-sns-inbound.json"), "text/plain; charset=UTF-8",
             {"x-amz-sns-message-type": "Notification"})
    c.eq("aws-sns-inbound.json: STOP opted out", (r.status, check(d, "+12125550101", "+14255550182")["reason"]),
         (200, "opted_out"))

    def telnyx_status(mid, code, to):
        body = {"data": {"event_type": "message.finalized", "id": "ev-" + mid, "occurred_at": "2024-01-01T00:00:00Z",
                         "payload": {"id": mid, "from": {"phone_number": "+15550000001"},
                                     "to": [{"phone_number": to, "status": "delivery_failed"}],
                                     "errors": [{"code": code}]}}}
        return post(d, "/v1/webhooks/telnyx", json.dumps(body).encode(), JSON)

    c.eq("telnyx 40300: 200", telnyx_status("tm1", "40300", "+15550007777").status, 200)
    c.eq("telnyx 40300: opted out (provider_signal, rule 40300)", state(d, "+15550000001", "+15550007777"),
         ("opted_out", [("provider_signal", "40300", "sender")]))
    telnyx_status("tm2", 40001, "+15550008888")
    j = consent(d, "+15550000001", "+15550008888")
    c.eq("telnyx 40001: recipient_not_sms_capable, no opt-out",
         (j["verdict"]["reason"], [s["state"] for s in j["scopes"] if s["state"] == "opted_out"]),
         ("recipient_not_sms_capable", []))
    r = post(d, "/v1/webhooks/telnyx", b"{not json", JSON)
    c.eq("telnyx malformed JSON: 400", r.status, 400)
    r = post(d, "/v1/webhooks/nosuch", b"x=1")
    c.eq("unknown provider: 404", r.status, 404)
    r = d.get("/v1/webhooks/vonage")
    c.eq("vonage URL check (no to): 200 ignored", (r.status, r.json()["messages"][0]["kind"]), (200, "ignored"))
    c.check("unsigned providers logged loudly", "ACCEPTS UNSIGNED" in d.log())


def refused(c, d):
    for p, body, ctype in [("twilio", fixture("twilio-stop-optouttype.form"), FORM),
                           ("telnyx", fixture("telnyx-stop-signed.json"), JSON),
                           ("bandwidth", fixture("bandwidth-inbound.json"), JSON),
                           ("plivo", fixture("plivo-inbound-2.form"), FORM),
                           ("vonage", fixture("vonage-inbound.form"), FORM)]:
        r = post(d, f"/v1/webhooks/{p}", body, ctype)
        c.eq(f"{p} without credentials, unsigned not allowed: 403",
             (r.status, r.json()["error"]), (403, "provider_not_configured"))
    c.eq("refused providers recorded nothing", events(d), 0)


def test(c):
    self_check(c)
    signed = {"twilio": {"authToken": TWILIO_TOKEN}, "telnyx": {"publicKey": TELNYX_KEY},
              "bandwidth": {"username": "user", "password": "pass-w0rd"},
              "plivo": {"authToken": "MY_AUTH_TOKEN", "country": "MY"}}
    clock = {"STOPGATE_TEST_CLOCK": "1548267010"}
    with_daemon(c, twilio_signed, signed, env=clock)
    with_daemon(c, twilio_port_base, signed, base=BASE + ":443", env=clock)
    with_daemon(c, twilio_env, {"twilio": {"replyWithTwiml": True}},
                env={"STOPGATE_TWILIO_AUTH_TOKEN": "6789"})
    with_daemon(c, telnyx_signed, signed, env=clock)
    telnyx_one(c, "at the edge of the window (300 s)", TELNYX_KEY, 1548267302, 200)
    telnyx_one(c, "stale timestamp (301 s)", TELNYX_KEY, 1548267303, 403)
    telnyx_one(c, "key as DER SPKI", TELNYX_KEY_PEM, 1548267010, 200)
    telnyx_one(c, "wrong key", base64.b64encode(bytes(range(1, 33))).decode(), 1548267010, 403)
    with_daemon(c, bandwidth, signed, env=clock)
    with_daemon(c, plivo, signed, env=clock)
    with_daemon(c, plivo_us, {"plivo": {"country": "US"}}, allow_unsigned=True)
    for method in VONAGE_SIGS:
        vonage_vector(c, method)
    with_daemon(c, vonage, {"vonage": {"country": "NG"}}, allow_unsigned=True)
    with_daemon(c, vonage_timeout, {"vonage": {"country": "NG", "concatTimeoutSeconds": 5}}, allow_unsigned=True)
    with_daemon(c, unsigned, {"sinch": {"country": "US"}}, allow_unsigned=True)
    with_daemon(c, refused, {})

    start_fails(c, "telnyx key not base64", {"providers": {"telnyx": {"publicKey": "not a key"}}},
                expect="providers.telnyx.publicKey")
    start_fails(c, "telnyx key from the environment", {}, env={"STOPGATE_TELNYX_PUBLIC_KEY": "AAAA"},
                expect="providers.telnyx.publicKey")
    start_fails(c, "unknown provider", {"providers": {"twillio": {}}}, expect="unknown provider")
    start_fails(c, "unknown setting", {"providers": {"twilio": {"authtoken": "x"}}}, expect="unknown setting")
    start_fails(c, "twilio token without publicBaseUrl", {"providers": {"twilio": {"authToken": "x"}}},
                expect="publicBaseUrl")
    start_fails(c, "vonage signature method", {"providers": {"vonage": {"signatureMethod": "sha3"}}},
                expect="signatureMethod")
    start_fails(c, "bandwidth user without password", {"providers": {"bandwidth": {"username": "u"}}},
                expect="username and password")


if __name__ == "__main__":
    run("webhooks", test)
