# SPDX-License-Identifier: Apache-2.0
"""Consent integrity on the webhook paths (issue 11), against the real
daemon over HTTP: a request whose signed material and parsed fields could
differ is refused for every provider (repeated form keys, a key in both the
query and the body, duplicated JSON keys, also nested); AWS SNS: the signed
Timestamp window, a set of certificates, unknown SigningCertURL named in the
log, China-region hosts; Plivo V2 gone; Bandwidth's 401 challenge and mixed
arrays; a webhook without our number (To) for every provider; Twilio signing
keys and query escaping; Sinch HMAC signatures; rate-limited refusal logs."""
import base64
import hashlib
import hmac
import json
import os
import sys
from urllib.parse import urlencode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sgtest import Daemon, q, run  # noqa: E402
from test_webhooks import (BASE, FORM, JSON, TELNYX_KEY, TWILIO_TOKEN, VONAGE_PARAMS, VONAGE_SECRET,  # noqa: E402
                           VONAGE_SIGS, basic, check, daemon, events, fixture, plivo_v3_sig, post,
                           start_fails, twilio_sig)

# Two RSA keys made for these tests (openssl genrsa 1024): A signs, B is another
# certificate a configuration may hold.
RSA_A_N = int("b5de1d2b5fdb490278ad3ec68000e02244cd594148288719a7653bf44c0bd12d724726d0fe36a1d849279c6d0937e3"
              "09110ff6cc7d0eb8867e8a5ddaa4f4339e76a76aa7c90cfd852cc23afacceae1db45af8c531c0c91f07702841522"
              "3d6682bf500abc28a257126791996e6509e3f861e4a34948a81a494fb28c8d74c0cdad", 16)
RSA_A_D = int("233b5c3b42dea04e32429d9ea6bd84ae1ed6092c74662585fabfc9d591c5d8480d936b19a1a5c3c4baa749ce75b2b5"
              "f0d3b55c025157c0b78d5c10c282a22c3d7ae826235ff321d9655117ef757694a852209d4590690645e6d4b90a82"
              "78bd11f20c08f31d1e53a1babebcd479ad2331e425e8ab3d08ee873ea14ed15a7c1901", 16)
RSA_A_PEM = """-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC13h0rX9tJAnitPsaAAOAiRM1Z
QUgohxmnZTv0TAvRLXJHJtD+NqHYSSecbQk34wkRD/bMfQ64hn6KXdqk9DOedqdq
p8kM/YUswjr6zOrh20WvjFMcDJHwdwKEFSI9ZoK/UAq8KKJXEmeRmW5lCeP4YeSj
SUioGklPsoyNdMDNrQIDAQAB
-----END PUBLIC KEY-----
"""
RSA_B_PEM = """-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDH5ClXVX61INGIzDWpQyk0uC7d
7tH3CFKQFEZRW1hdz6V2UG4B/q44oB4EbK/RVRKuuKyhtCiLw7QqHZrHGfggboOz
8KpE9wQCKWR1ED8rPi9WAEt+jm74KZBKhNHH2Ximxw5c/W1xgJCeJJXI4gn1rRsX
wGlf952xgje6PvepswIDAQAB
-----END PUBLIC KEY-----
"""
DIGEST_INFO = {"sha1": bytes.fromhex("3021300906052b0e03021a05000414"),
               "sha256": bytes.fromhex("3031300d060960864801650304020105000420")}

# Telnyx (the key of test_webhooks.py, seed 00..1f): a body whose payload
# holds "text" twice, signed with openssl pkeyutl -rawin over "1548267002|" + body.
TELNYX_DUP = (b'{"data":{"event_type":"message.received","id":"ev-dup-1","occurred_at":"2024-01-01T00:00:00Z",'
              b'"payload":{"id":"tx-dup-1","text":"START","from":{"phone_number":"+15550100001"},'
              b'"to":[{"phone_number":"+15550000001"}],"text":"STOP"}}}')
TELNYX_DUP_SIG = "VqvnsCJiz1CzNfYzbOvsPRuM0FNbJl1b7+STmoWrgZjM14BAYHhDQP8J4TFKm/qBjyPr9yfEEmCc+V9Mln8LBQ=="

SNS_TOPIC = "arn:aws:sns:us-east-1:123456789012:inbound-sms"
SNS_URL_A = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-aaaa.pem"
SNS_URL_B = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-bbbb.pem"
SNS_URL_CN = "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-cccc.pem"
SNS_NOW = 1704067200  # 2024-01-01T00:00:00Z
SNS_TS = "2024-01-01T00:00:00.000Z"


def rsa_sign(msg, alg="sha1"):
    h = DIGEST_INFO[alg] + hashlib.new(alg, msg).digest()
    k = (RSA_A_N.bit_length() + 7) // 8
    em = b"\x00\x01" + b"\xff" * (k - len(h) - 3) + b"\x00" + h
    return pow(int.from_bytes(em, "big"), RSA_A_D, RSA_A_N).to_bytes(k, "big")


def sns_inner(frm="+12125550101", to="+14255550182", body="STOP", mid="sns-in-1", extra=""):
    return ('{"originationNumber":%s,"destinationNumber":%s,"messageKeyword":"KEYWORD","messageBody":%s,'
            '"inboundMessageId":%s%s}' % (json.dumps(frm), json.dumps(to), json.dumps(body), json.dumps(mid),
                                          extra))


def sns_envelope(message, ts=SNS_TS, cert=SNS_URL_A, version="1", msg_id="m-1", extra_before="", extra_after=""):
    """A Notification signed with key A over its fields; extra_* is raw JSON text
    (e.g. a duplicated key) put before / after the signed fields."""
    fields = [("Message", message), ("MessageId", msg_id), ("Timestamp", ts), ("TopicArn", SNS_TOPIC),
              ("Type", "Notification")]
    sts = "".join(f"{k}\n{v}\n" for k, v in fields).encode()
    sig = base64.b64encode(rsa_sign(sts, "sha1" if version == "1" else "sha256")).decode()
    parts = [f'"Type":"Notification"', f'"MessageId":{json.dumps(msg_id)}', f'"TopicArn":{json.dumps(SNS_TOPIC)}',
             f'"Message":{json.dumps(message)}', f'"Timestamp":{json.dumps(ts)}',
             f'"SignatureVersion":"{version}"', f'"Signature":"{sig}"', f'"SigningCertURL":{json.dumps(cert)}',
             '"UnsubscribeURL":"https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe"']
    return ("{" + extra_before + ",".join(parts) + extra_after + "}").encode()


def sns_post(d, body):
    return post(d, "/v1/webhooks/aws-sns", body, "text/plain; charset=UTF-8", {"x-amz-sns-message-type": "Notification"})


def audit(d):
    r = d.get("/v1/audit")
    return [json.loads(line) for line in r.body.decode().splitlines() if line.strip()]


def log_count(d, text):
    return d.log().count(text)


EXITS = []  # exit code of every daemon stopped


def closing(d):
    EXITS.append(d.stop())
    d.cleanup()


# ---- 1. repeated keys, every provider --------------------------------------

def vonage_repeated(c):
    """A captured signed callback of any age with timestamp/text/messageId put in
    front: before, the signature covered the smallest value and the parser read the
    first, so it verified and recorded an opt-in."""
    now = 1385047698 + 100000000  # years after the capture
    d = daemon({"vonage": {"signatureSecret": VONAGE_SECRET, "signatureMethod": "md5hash", "country": "US"}},
               env={"STOPGATE_TEST_CLOCK": str(now)})
    try:
        captured = urlencode(dict(VONAGE_PARAMS, sig=VONAGE_SIGS["md5hash"]))
        forged = f"timestamp={now}&text=start&messageId=zz-forged-1&" + captured
        r = d.get("/v1/webhooks/vonage?" + forged)
        c.eq("vonage GET, repeated keys put in front of a signed callback: 403", r.status, 403)
        r = post(d, "/v1/webhooks/vonage", forged.replace("zz-forged-1", "zz-forged-2").encode())
        c.eq("vonage POST form, the same: 403", r.status, 403)
        js = "{" + ",".join([f'"timestamp":"{now}"', '"text":"start"', '"messageId":"zz-forged-3"'] +
                            [f'{json.dumps(k)}:{json.dumps(v)}' for k, v in
                             dict(VONAGE_PARAMS, sig=VONAGE_SIGS["md5hash"]).items()]) + "}"
        r = post(d, "/v1/webhooks/vonage", js.encode(), JSON)
        c.eq("vonage POST JSON with duplicated keys: 403", r.status, 403)
        c.eq("vonage forged: nothing recorded", events(d), 0)
        c.check("vonage forged: the log names the repeated key", 'parameter \\"' in d.log() and
                "repeated" in d.log(), d.log()[-800:])
    finally:
        closing(d)


def twilio_repeated(c, d):
    path = "/v1/webhooks/twilio"
    body = urlencode([("MessageSid", "SMdup1"), ("AccountSid", "AC1"), ("From", "+14155550901"),
                      ("To", "+14155550100"), ("Body", "START"), ("Body", "STOP")]).encode()
    r = post(d, path, body, headers={"X-Twilio-Signature": twilio_sig(BASE + path, body, TWILIO_TOKEN)})
    c.eq("twilio POST, a repeated key (validly signed): 403", r.status, 403)
    url = path + "?" + urlencode([("MessageSid", "SMdup2"), ("From", "+14155550902"), ("To", "+14155550100"),
                                  ("Body", "START"), ("From", "+14155550903")])
    r = d.get(url, headers={"X-Twilio-Signature": twilio_sig(BASE + url, b"", TWILIO_TOKEN)})
    c.eq("twilio GET, a repeated key (validly signed): 403", r.status, 403)
    url = path + "?From=%2B14155550904"
    body = urlencode({"MessageSid": "SMdup3", "From": "+14155550905", "To": "+14155550100",
                      "Body": "START"}).encode()
    r = post(d, url, body, headers={"X-Twilio-Signature": twilio_sig(BASE + url, body, TWILIO_TOKEN)})
    c.eq("twilio POST, a key in both the query and the body (validly signed): 403", r.status, 403)
    c.eq("twilio refused: nothing recorded", events(d), 0)


def plivo_repeated(c, d):
    def send(path, body, nonce="777"):
        return post(d, path, body, headers={"X-Plivo-Signature-V3": plivo_v3_sig(BASE + path, body, nonce,
                                                                                 "MY_AUTH_TOKEN"),
                                            "X-Plivo-Signature-V3-Nonce": nonce})
    body = b"From=14155550911&To=14155550100&Text=START&Type=sms&MessageUUID=pl-dup-1&Text=STOP"
    c.eq("plivo POST, a repeated key (validly signed): 403", send("/v1/webhooks/plivo", body).status, 403)
    body = b"From=14155550912&To=14155550100&Text=STOP&Type=sms&MessageUUID=pl-dup-2"
    c.eq("plivo POST, Text in both the query and the body (validly signed): 403",
         send("/v1/webhooks/plivo?Text=START", body).status, 403)
    c.eq("plivo refused: nothing recorded", events(d), 0)
    # Plivo V2 signs no body: refused now even with a right V2 signature.
    nonce = "12345"
    v2 = base64.b64encode(hmac.new(b"MY_AUTH_TOKEN", (BASE + "/v1/webhooks/plivo" + nonce).encode(),
                                   hashlib.sha256).digest()).decode()
    r = post(d, "/v1/webhooks/plivo", b"From=14155550913&To=14155550100&Text=START&Type=sms&MessageUUID=pl-v2",
             headers={"X-Plivo-Signature-V2": v2, "X-Plivo-Signature-V2-Nonce": nonce})
    c.eq("plivo V2 signature (covers no body): 403", r.status, 403)


def bandwidth_dup(c, d):
    auth = basic("user", "pass-w0rd")
    el = ('[{"type":"message-received","time":"2024-01-01T00:00:00Z","to":"+15550000001","description":"",'
          '"message":{"id":"bw-dup-1","time":"2024-01-01T00:00:00Z","to":["+15550000001"],"from":"+15550100021",'
          '"text":"START","owner":"+15550000001","applicationId":"app","direction":"in","text":"STOP"}}]')
    r = post(d, "/v1/webhooks/bandwidth", el.encode(), JSON, auth)
    c.eq("bandwidth, a JSON key repeated inside message: 400", r.status, 400)
    el2 = el.replace('"type":"message-received",', '"type":"message-received","type":"message-delivered",')
    r = post(d, "/v1/webhooks/bandwidth", el2.replace("bw-dup-1", "bw-dup-2").encode(), JSON, auth)
    c.eq("bandwidth, a JSON key repeated in an element: 400", r.status, 400)
    two = json.dumps([bw_el("bw-two-1", "+15550100022", "START")]) + " " + json.dumps(
        [bw_el("bw-two-2", "+15550100022", "STOP")])
    r = post(d, "/v1/webhooks/bandwidth", two.encode(), JSON, auth)
    c.eq("bandwidth, a second JSON value after the first: 400", r.status, 400)
    c.eq("bandwidth duplicated keys / two values: nothing recorded", events(d), 0)
    r = post(d, "/v1/webhooks/bandwidth", (json.dumps([bw_el("bw-ws-1", "+15550100023", "STOP")]) + "\r\n").encode(),
             JSON, auth)
    c.eq("bandwidth, trailing whitespace only: 200", r.status, 200)


def telnyx_dup(c, d):
    r = post(d, "/v1/webhooks/telnyx", TELNYX_DUP, JSON,
             {"telnyx-timestamp": "1548267002", "telnyx-signature-ed25519": TELNYX_DUP_SIG})
    c.eq("telnyx, validly signed body with a repeated JSON key: 400", r.status, 400)
    c.eq("telnyx duplicated key: nothing recorded", events(d), 0)


def sinch_sig(body, nonce, ts, secret="sinch-s3cret"):
    return base64.b64encode(hmac.new(secret.encode(), body + b"." + nonce.encode() + b"." + ts.encode(),
                                     hashlib.sha256).digest()).decode()


def sinch_signed(c):
    now = "1700000000"
    d = daemon({"sinch": {"signingSecret": "sinch-s3cret", "country": "US"}}, env={"STOPGATE_TEST_CLOCK": now})
    try:
        def send(body, nonce="n-1", ts=now, secret="sinch-s3cret", alg="HmacSHA256"):
            return post(d, "/v1/webhooks/sinch", body, JSON, {
                "x-sinch-webhook-signature": sinch_sig(body, nonce, ts, secret),
                "x-sinch-webhook-signature-nonce": nonce, "x-sinch-webhook-signature-timestamp": ts,
                "x-sinch-webhook-signature-algorithm": alg})
        stop = (b'{"type":"mo_text","id":"sn-1","from":"12065550131","to":"12065550100","body":"STOP",'
                b'"received_at":"2024-01-01T00:00:00.000Z"}')
        r = send(stop)
        c.eq("sinch HMAC-signed STOP: 200", r.status, 200)
        c.eq("sinch HMAC-signed STOP: opted out", check(d, "+12065550100", "+12065550131")["reason"], "opted_out")
        n = events(d)
        c.eq("sinch wrong secret: 403", send(stop.replace(b"sn-1", b"sn-2"), secret="other").status, 403)
        c.eq("sinch stale timestamp: 403", send(stop.replace(b"sn-1", b"sn-3"), ts=str(int(now) - 301)).status,
             403)
        c.eq("sinch tampered body: 403", post(d, "/v1/webhooks/sinch", stop.replace(b"STOP", b"STAR"), JSON, {
            "x-sinch-webhook-signature": sinch_sig(stop, "n-1", now), "x-sinch-webhook-signature-nonce": "n-1",
            "x-sinch-webhook-signature-timestamp": now}).status, 403)
        c.eq("sinch unsigned: 403", post(d, "/v1/webhooks/sinch", stop.replace(b"sn-1", b"sn-4"), JSON).status, 403)
        dup = (b'{"type":"mo_text","id":"sn-5","from":"12065550132","to":"12065550100","body":"START",'
               b'"body":"STOP"}')
        c.eq("sinch validly signed body with a repeated JSON key: 400", send(dup).status, 400)
        c.eq("sinch refused: nothing new", events(d), n)
    finally:
        closing(d)


def sinch_basic_dup(c, d):
    dup = b'{"type":"mo_text","id":"sn-b1","from":"12065550141","to":"12065550100","body":"START","body":"STOP"}'
    r = post(d, "/v1/webhooks/sinch", dup, JSON, basic("su", "sp"))
    c.eq("sinch (Basic), a repeated JSON key: 400", r.status, 400)
    c.eq("sinch (Basic) duplicated key: nothing recorded", events(d), 0)


# ---- 2. AWS SNS -------------------------------------------------------------

def sns(c):
    env = {"STOPGATE_TEST_CLOCK": str(SNS_NOW)}
    d = daemon({"aws-sns": {"certificates": {SNS_URL_B: RSA_B_PEM, SNS_URL_A: RSA_A_PEM, SNS_URL_CN: RSA_A_PEM},
                            "topicArn": SNS_TOPIC}}, env=env)
    try:
        r = sns_post(d, sns_envelope(sns_inner(mid="sns-ok-1")))
        c.eq("sns: signed STOP, its certificate among several configured: 200", r.status, 200)
        c.eq("sns: opted out", check(d, "+14255550182", "+12125550101")["reason"], "opted_out")
        r = sns_post(d, sns_envelope(sns_inner(frm="+12125550102", mid="sns-ok-2"), cert=SNS_URL_CN, version="2"))
        c.eq("sns: certificate on a .amazonaws.com.cn host (SignatureVersion 2): 200", r.status, 200)
        n = events(d)
        old = sns_envelope(sns_inner(frm="+12125550103", body="START", mid="sns-old"), ts="2023-12-31T21:59:59.000Z")
        r = sns_post(d, old)
        c.eq("sns: validly signed, Timestamp 2 h old: 403", r.status, 403)
        c.check("sns: the log says the Timestamp is outside the window", "outside the 3600 s window" in d.log(),
                d.log()[-600:])
        r = sns_post(d, sns_envelope(sns_inner(frm="+12125550104", mid="sns-hr"), ts="2023-12-31T23:00:30.000Z"))
        c.eq("sns: Timestamp 59.5 min old (inside the default hour): 200", r.status, 200)
        n = events(d)
        unknown = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-rotated.pem"
        r = sns_post(d, sns_envelope(sns_inner(frm="+12125550105", mid="sns-unk"), cert=unknown))
        c.eq("sns: unknown SigningCertURL: 403", r.status, 403)
        c.check("sns: the log names the unknown certificate URL", unknown in d.log(), d.log()[-600:])
        # Duplicated keys: a second Message after the signed one, or inside the inner payload.
        env2 = sns_envelope(sns_inner(frm="+12125550106", mid="sns-dup1"),
                            extra_after=',"Message":' + json.dumps(sns_inner(frm="+12125550106", body="START",
                                                                               mid="sns-dup1b")))
        c.eq("sns: envelope with a repeated key (signature valid over the first): 403", sns_post(d, env2).status, 403)
        inner = sns_inner(frm="+12125550107", body="START", mid="sns-dup2", extra=',"messageBody":"STOP"')
        c.eq("sns: validly signed, inner payload with a repeated key: 400",
             sns_post(d, sns_envelope(inner, msg_id="m-dup2")).status, 400)
        c.eq("sns: refused requests recorded nothing", events(d), n)
    finally:
        closing(d)
    start_fails(c, "aws-sns certificates: not a PEM", {"providers": {"aws-sns": {"certificates": {SNS_URL_A: "x"}}}},
                expect="providers.aws-sns.certificates")


def sns_legacy(c):
    """The older single-certificate setting (which builds before this one
    understand too): it keeps working, and the same checks apply."""
    d = daemon({"aws-sns": {"certificate": RSA_A_PEM, "topicArn": SNS_TOPIC}},
               env={"STOPGATE_TEST_CLOCK": str(SNS_NOW)})
    try:
        r = sns_post(d, sns_envelope(sns_inner(frm="+12125550108", mid="sns-legacy")))
        c.eq("sns (certificate): signed STOP: 200", r.status, 200)
        n = events(d)
        old = sns_envelope(sns_inner(frm="+12125550109", body="START", mid="sns-old2"), ts="2023-12-31T21:59:59.000Z")
        c.eq("sns (certificate): validly signed, Timestamp 2 h old: 403", sns_post(d, old).status, 403)
        env2 = sns_envelope(sns_inner(frm="+12125550110", mid="sns-dup3"),
                            extra_after=',"Message":' + json.dumps(sns_inner(frm="+12125550110", body="START",
                                                                               mid="sns-dup3b")))
        c.eq("sns (certificate): envelope with a repeated key: 403", sns_post(d, env2).status, 403)
        inner = sns_inner(frm="+12125550111", body="START", mid="sns-dup4", extra=',"messageBody":"STOP"')
        c.eq("sns (certificate): inner payload with a repeated key: 400",
             sns_post(d, sns_envelope(inner, msg_id="m-dup4")).status, 400)
        c.eq("sns (certificate): refused requests recorded nothing", events(d), n)
        r = sns_post(d, sns_envelope(sns_inner(frm="+12125550112", mid="sns-cn"), cert=SNS_URL_CN))
        c.eq("sns (certificate): certificate URL on a .amazonaws.com.cn host: 200", r.status, 200)
    finally:
        closing(d)


# ---- 3. Plivo V2 --------------------------------------------------------------

def plivo_v2_config(c):
    start_fails(c, "plivo allowV2Signatures removed", {"publicBaseUrl": BASE, "providers": {
        "plivo": {"authToken": "MY_AUTH_TOKEN", "allowV2Signatures": True}}}, expect="allowV2Signatures: removed")


# ---- 10, 11. Bandwidth --------------------------------------------------------

def bw_el(mid, frm, text, owner="+15550000001", drop=()):
    el = {"type": "message-received", "time": "2024-01-01T00:00:00Z", "to": owner, "description": "",
          "message": {"id": mid, "time": "2024-01-01T00:00:00Z", "to": [owner], "from": frm, "text": text,
                      "owner": owner, "applicationId": "app", "direction": "in"}}
    for k in drop:
        el["message"].pop(k, None)
        el.pop(k, None)
    return el


def bandwidth(c, d):
    auth = basic("user", "pass-w0rd")
    body = json.dumps([bw_el("bw-ch-1", "+15550100031", "STOP")]).encode()
    r = post(d, "/v1/webhooks/bandwidth", body, JSON)
    c.eq("bandwidth first try without credentials: 401", r.status, 401)
    c.check("bandwidth 401 carries WWW-Authenticate: Basic realm=",
            (r.header("www-authenticate") or "").startswith('Basic realm="'), r.headers)
    r = post(d, "/v1/webhooks/bandwidth", body, JSON, auth)
    c.eq("bandwidth retry with credentials: 200", r.status, 200)
    c.eq("bandwidth after the challenge: opted out", check(d, "+15550000001", "+15550100031")["reason"], "opted_out")
    r = post(d, "/v1/webhooks/bandwidth", body, JSON, basic("user", "wrong"))
    c.eq("bandwidth wrong credentials: 401", r.status, 401)

    mixed = [bw_el("bw-mx-1", "+15550100032", "STOP"), bw_el("bw-mx-2", "+15550100033", "STOP", drop=("id",)),
             {"type": "message-received", "message": "not an object"}, bw_el("bw-mx-4", "+15550100034", "STOP")]
    r = post(d, "/v1/webhooks/bandwidth", json.dumps(mixed).encode(), JSON, auth)
    c.eq("bandwidth array with bad elements beside valid STOPs: 200", r.status, 200)
    c.eq("bandwidth mixed: first STOP recorded", check(d, "+15550000001", "+15550100032")["reason"], "opted_out")
    c.eq("bandwidth mixed: last STOP recorded", check(d, "+15550000001", "+15550100034")["reason"], "opted_out")
    kinds = [m["kind"] for m in r.json()["messages"]]
    c.eq("bandwidth mixed: the bad elements answered as invalid", kinds, ["inbound", "invalid", "invalid", "inbound"])
    c.check("bandwidth mixed: the bad elements are logged", log_count(d, "cannot be read") == 2, d.log()[-800:])
    n = events(d)
    r = post(d, "/v1/webhooks/bandwidth", json.dumps(mixed).encode(), JSON, auth)
    c.eq("bandwidth mixed, sent again: 200, nothing new", (r.status, events(d)), (200, n))
    r = post(d, "/v1/webhooks/bandwidth", json.dumps(mixed[1:3]).encode(), JSON, auth)
    c.eq("bandwidth array of bad elements only: 400", r.status, 400)


# ---- 12. no number of ours (To), every provider -------------------------------

def no_to(c, d):
    cases = [
        ("twilio", FORM, urlencode({"MessageSid": "SMnt1", "From": "+14155550941", "Body": "STOP"}).encode(),
         "+14155550941"),
        ("telnyx", JSON, json.dumps({"data": {"event_type": "message.received", "id": "e-nt", "payload": {
            "id": "tx-nt1", "text": "STOP", "from": {"phone_number": "+14155550942"}, "to": []}}}).encode(),
         "+14155550942"),
        ("bandwidth", JSON, json.dumps([bw_el("bw-nt1", "+14155550943", "STOP", drop=("to", "owner"))]).encode(),
         "+14155550943"),
        ("plivo", FORM, b"From=14155550944&Text=STOP&Type=sms&MessageUUID=pl-nt1", "+14155550944"),
        ("vonage", FORM, b"msisdn=14155550945&text=STOP&messageId=vn-nt1&type=text", "+14155550945"),
        ("sinch", JSON, b'{"type":"mo_text","id":"sn-nt1","from":"14155550946","body":"STOP"}', "+14155550946"),
        ("aws-sns", "text/plain", json.dumps({"Type": "Notification", "MessageId": "m-nt", "TopicArn": "arn",
                                              "Timestamp": "2024-01-01T00:00:00.000Z",
                                              "Message": json.dumps({"originationNumber": "+14155550947",
                                                                     "messageBody": "STOP",
                                                                     "inboundMessageId": "sns-nt1"})}).encode(),
         "+14155550947"),
    ]
    for p, ctype, body, handset in cases:
        r = post(d, f"/v1/webhooks/{p}", body, ctype)
        c.check(f"{p} STOP without our number: 4xx, not 5xx", 400 <= r.status < 500, r)
        evs = [e for e in audit(d) if e.get("recipient") == handset]
        c.check(f"{p} STOP without our number: kept as an opt-out under the quarantine sender raw:",
                any(e.get("sender") == "raw:" and e.get("action") == "opt_out" for e in evs), evs)
        r = post(d, f"/v1/webhooks/{p}", body, ctype)
        c.check(f"{p} the same again: 4xx, recorded once",
                400 <= r.status < 500 and len([e for e in audit(d) if e.get("recipient") == handset]) == 1, r)
    r = post(d, "/v1/webhooks/twilio", urlencode({"MessageSid": "SMnt2", "From": "+14155550948",
                                                  "Body": "hello"}).encode())
    c.check("twilio non-keyword text without our number: 4xx, nothing recorded",
            400 <= r.status < 500 and not [e for e in audit(d) if e.get("recipient") == "+14155550948"], r)
    r = post(d, "/v1/webhooks/twilio", urlencode({"MessageSid": "SMnt3", "From": "+14155550951", "Body": "STOP",
                                                  "OptOutType": "STOP", "MessagingServiceSid": "MGnt1"}).encode())
    evs = [e for e in audit(d) if e.get("recipient") == "+14155550951"]
    c.check("twilio provider STOP without our number: 4xx, also recorded for its Messaging Service",
            400 <= r.status < 500 and any(e.get("scope") == "group" and e.get("scope_id") == "MGnt1" for e in evs),
            (r, evs))
    arr = [bw_el("bw-nt2", "+14155550949", "STOP", drop=("to", "owner")), bw_el("bw-nt3", "+14155550950", "STOP")]
    r = post(d, "/v1/webhooks/bandwidth", json.dumps(arr).encode(), JSON)
    c.eq("bandwidth array, one element without our number beside a valid one: 200", r.status, 200)
    c.eq("bandwidth array: the valid one opted out", check(d, "+15550000001", "+14155550950")["reason"], "opted_out")


# ---- Twilio signing keys and query escaping ------------------------------------

def twilio_keys(c):
    d = daemon({"twilio": {"authToken": TWILIO_TOKEN, "signingKeys": {"rule-key-1": "k1-secret",
                                                                       "rule-key-2": "k2-secret"}}})
    try:
        path = "/v1/webhooks/twilio"
        body = urlencode({"MessageSid": "SMk1", "From": "+14155550961", "To": "+14155550100", "Body": "STOP"}).encode()
        s = (BASE + path + "".join(k + v for k, v in sorted([("MessageSid", "SMk1"), ("From", "+14155550961"),
                                                             ("To", "+14155550100"), ("Body", "STOP")])))
        sig = base64.b64encode(hmac.new(b"k2-secret", s.encode(), hashlib.sha256).digest()).decode()
        r = post(d, path, body, headers={"X-Twilio-Signature": sig,
                                         "X-Twilio-Webhooks-Signature-Settings": "key=rule-key-2,algorithm=HMAC_SHA256"})
        c.eq("twilio HMAC-SHA256 with a named signing key: 200", r.status, 200)
        c.eq("twilio signing key: opted out", check(d, "+14155550100", "+14155550961")["reason"], "opted_out")
        r = post(d, path, body, headers={"X-Twilio-Signature": sig,
                                         "X-Twilio-Webhooks-Signature-Settings": "key=rule-key-9,algorithm=HMAC_SHA256"})
        c.eq("twilio unknown signing key: 403", r.status, 403)
        c.check("twilio unknown signing key: named in the log", "rule-key-9" in d.log(), d.log()[-500:])
        r = post(d, path, body, headers={"X-Twilio-Signature": sig,
                                         "X-Twilio-Webhooks-Signature-Settings": "key=rule-key-1,algorithm=HMAC_SHA256"})
        c.eq("twilio signature by another key than the one named: 403", r.status, 403)
    finally:
        closing(d)


def twilio_escapes(c, d):
    """The query as Twilio's own validators rebuild it: ' and %27 (and the other
    legacy-querystring characters) are the same query."""
    path = "/v1/webhooks/twilio"
    # Query escaping: the signature over ' verifies a request that says %27, and back.
    for sent, signed, sid in [("?c=it%27s", "?c=it's", "SMq1"), ("?c=it's", "?c=it%27s", "SMq2"),
                              ("?c=%28a%29", "?c=(a)", "SMq3")]:
        b2 = urlencode({"MessageSid": sid, "From": "+14155550962", "To": "+14155550100", "Body": "HELP"}).encode()
        r = post(d, path + sent, b2, headers={"X-Twilio-Signature": twilio_sig(BASE + path + signed, b2,
                                                                               TWILIO_TOKEN)})
        c.eq(f"twilio query sent as {sent}, signed as {signed}: 200", r.status, 200)
    b3 = urlencode({"MessageSid": "SMq4", "From": "+14155550963", "To": "+14155550100", "Body": "HELP"}).encode()
    r = post(d, path + "?c=it%27s", b3, headers={"X-Twilio-Signature": twilio_sig(BASE + path + "?c=its", b3,
                                                                                   TWILIO_TOKEN)})
    c.eq("twilio query with other content: 403", r.status, 403)


# ---- log rate limiting ------------------------------------------------------------

def log_flood(c, d):
    body = fixture("twilio-stop-optouttype.form")
    for _ in range(40):
        post(d, "/v1/webhooks/twilio/inbound", body, headers={"X-Twilio-Signature": "AAAAAAAAAAAAAAAAAAAAAAAAAAA="})
    n = log_count(d, "refused: signature missing, wrong or stale")
    c.check("40 forged requests: at most 10 refusal lines logged", 1 <= n <= 10, f"{n} lines")
    c.check("40 forged requests: the log says similar lines are suppressed", "suppressing them" in d.log(),
            d.log()[-600:])


def test(c):
    clock = {"STOPGATE_TEST_CLOCK": "1548267010"}
    signed = {"twilio": {"authToken": TWILIO_TOKEN}, "telnyx": {"publicKey": TELNYX_KEY},
              "bandwidth": {"username": "user", "password": "pass-w0rd"},
              "plivo": {"authToken": "MY_AUTH_TOKEN", "country": "US"},
              "sinch": {"username": "su", "password": "sp", "country": "US"}}

    def each(fn, providers, **kw):
        d = daemon(providers, **kw)
        try:
            fn(c, d)
        finally:
            closing(d)

    # Each group on its own: one that cannot even start (as on old builds,
    # which refuse the new settings) is a failed case, and the rest still run.
    groups = [
        lambda: vonage_repeated(c),
        lambda: each(twilio_repeated, signed, env=clock),
        lambda: each(plivo_repeated, signed, env=clock),
        lambda: each(bandwidth_dup, signed, env=clock),
        lambda: each(telnyx_dup, signed, env=clock),
        lambda: each(sinch_basic_dup, signed, env=clock),
        lambda: sinch_signed(c),
        lambda: sns(c),
        lambda: sns_legacy(c),
        lambda: plivo_v2_config(c),
        lambda: each(bandwidth, signed, env=clock),
        lambda: each(no_to, {"plivo": {"country": "US"}, "vonage": {"country": "US"}, "sinch": {"country": "US"},
                             "twilio": {}, "bandwidth": {}}, allow_unsigned=True),
        lambda: twilio_keys(c),
        lambda: each(twilio_escapes, {"twilio": {"authToken": TWILIO_TOKEN}}),
        lambda: each(log_flood, signed, env=clock),
    ]
    for g in groups:
        try:
            g()
        except Exception as e:  # noqa: BLE001 - reported as a failed case
            c.crash(e)
    c.check("every daemon exited cleanly (0)", EXITS and all(x == 0 for x in EXITS), EXITS)


if __name__ == "__main__":
    run("integrity_webhooks", test)
