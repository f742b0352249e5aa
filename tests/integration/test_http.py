# SPDX-License-Identifier: Apache-2.0
"""The HTTP layer of `stopgate serve` over raw sockets: keep-alive,
pipelining (answers in request order even when a write is answered after a
check queued behind it), the per-connection pipelining bound, HTTP/1.0,
Connection: close, chunked request bodies, Expect: 100-continue, and every
limit with its own status: 431 header size, 413 body size (and the larger
batch limit), 408 header and body timeouts, idle keep-alive close, 503 at
the connection limit, 503 + Retry-After when the writer queue is full,
400 for garbage."""
import json
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sgtest import Daemon, closed_by_peer, q, read_response, run  # noqa: E402

OURS = "+14155550100"
HANDSET = "+14155550199"

LIMITS = {
    "maxHeaderBytes": 2048,
    "maxBodyBytes": 4096,
    "maxBatchBodyBytes": 16384,
    "headerTimeoutMs": 600,
    "bodyTimeoutMs": 600,
    "idleTimeoutMs": 1200,
    "maxPipelined": 4,
    "maxConnections": 64,
}


def req(method, path, body=b"", headers=None, version="1.1"):
    h = {"Host": "x"}
    if body or method in ("POST", "PUT"):
        h["Content-Length"] = str(len(body))
    if body and "Content-Type" not in (headers or {}):
        h["Content-Type"] = "application/json"
    h.update(headers or {})
    head = f"{method} {path} HTTP/{version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
    return head.encode() + body


def inbound_req(msg_id, body="STOP", frm=HANDSET):
    return req("POST", "/v1/inbound", json.dumps(
        {"id": msg_id, "provider": "t", "from": frm, "to": OURS, "body": body}).encode())


def check_req(frm=OURS, to=HANDSET):
    return req("GET", f"/v1/check?from={q(frm)}&to={q(to)}")


def test(c):
    d = Daemon(config={"limits": LIMITS}).start()
    try:
        body(c, d)
    finally:
        code = d.stop()
        c.eq("clean exit after the HTTP tests", code, 0)
        d.cleanup()
    small_daemons(c)


def body(c, d):
    # ---- keep-alive ----
    conn = d.conn()
    first = d.get("/healthz", conn=conn)
    sock1 = conn.sock
    second = d.get("/healthz", conn=conn)
    third = d.post("/v1/check", {"from": OURS, "to": [HANDSET]}, conn=conn)
    c.check("keep-alive: three requests on one connection",
            (first.status, second.status, third.status) == (200, 200, 200) and conn.sock is sock1)
    conn.close()

    # ---- pipelining, in order, write answered later than the check behind it ----
    s = d.raw()
    s.sendall(inbound_req("pipe-1") + check_req() + req("GET", "/healthz") + check_req())
    rest = b""
    answers = []
    for _ in range(4):
        r, rest = read_response(s, rest)
        answers.append(r)
    c.eq("pipelining: four answers", [a.status for a in answers], [200, 200, 200, 200])
    c.check("pipelining: first answer is the inbound write", "intent" in answers[0].json(), answers[0])
    c.check("pipelining: second is the check", "allow" in answers[1].json(), answers[1])
    c.check("pipelining: third is healthz", "status" in answers[2].json(), answers[2])
    c.check("pipelining: fourth is the check", "allow" in answers[3].json(), answers[3])
    # The second check was parsed before the STOP committed (checks never
    # wait for the writer) yet its answer is written after the inbound one.
    c.eq("pipelining: connection stays open", closed_by_peer(s, 0.2), False)
    s.close()

    # ---- more pipelined requests than maxPipelined: back-pressure, not errors ----
    s = d.raw()
    n = 25
    s.sendall(b"".join(check_req(to=f"+1415555{1000 + i}") for i in range(n)))
    rest = b""
    tos = []
    for _ in range(n):
        r, rest = read_response(s, rest)
        tos.append(r.status)
    c.eq("25 pipelined requests with maxPipelined 4: all answered", tos, [200] * n)
    s.close()

    # writes and reads interleaved, pipelined: strict request order
    s = d.raw()
    batch = b""
    kinds = []
    for i in range(12):
        if i % 3 == 0:
            batch += inbound_req(f"pipe-w{i}", body="HELP", frm=f"+1415555{2000 + i}")
            kinds.append("intent")
        else:
            batch += check_req(to=f"+1415555{3000 + i}")
            kinds.append("allow")
    s.sendall(batch)
    rest = b""
    got = []
    for _ in kinds:
        r, rest = read_response(s, rest)
        got.append("intent" if "intent" in r.json() else "allow")
    c.eq("interleaved pipelined writes and checks: answers in request order", got, kinds)
    s.close()

    # ---- HTTP/1.0 and Connection: close ----
    s = d.raw()
    s.sendall(req("GET", "/healthz", version="1.0"))
    r, _ = read_response(s)
    c.eq("HTTP/1.0: answered with Connection: close", (r.status, r.header("connection")), (200, "close"))
    c.check("HTTP/1.0: connection closed", closed_by_peer(s))
    s.close()
    s = d.raw()
    s.sendall(req("GET", "/healthz", version="1.0", headers={"Connection": "keep-alive"}))
    r, _ = read_response(s)
    c.eq("HTTP/1.0 keep-alive: kept", r.header("connection"), "keep-alive")
    s.sendall(req("GET", "/healthz", version="1.0", headers={"Connection": "keep-alive"}))
    r, _ = read_response(s)
    c.eq("HTTP/1.0 keep-alive: second request", r.status, 200)
    s.close()
    s = d.raw()
    s.sendall(req("GET", "/healthz", headers={"Connection": "close"}) + req("GET", "/healthz"))
    r, rest = read_response(s)
    c.eq("Connection: close: answered and marked", (r.status, r.header("connection")), (200, "close"))
    c.check("Connection: close: nothing after it is answered", closed_by_peer(s) and not rest.startswith(b"HTTP"))
    s.close()

    # ---- chunked request body, Expect: 100-continue ----
    s = d.raw()
    payload = json.dumps({"from": OURS, "to": [HANDSET, "+14155550198"]}).encode()
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(payload[i:i + 10]), payload[i:i + 10]) for i in range(0, len(payload), 10))
    s.sendall(b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n")
    r, _ = read_response(s)
    c.eq("chunked request body: answered", (r.status, len(r.json()["results"])), (200, 2))
    s.close()
    s = d.raw()
    s.sendall(b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(payload))
    r, rest = read_response(s)
    c.eq("Expect: 100-continue: 100 first", r.status, 100)
    s.sendall(payload)
    r, _ = read_response(s, rest)
    c.eq("Expect: 100-continue: then the answer", r.status, 200)
    s.close()

    # ---- 431 header too large ----
    s = d.raw()
    s.sendall(req("GET", "/healthz", headers={"X-Big": "a" * 3000}))
    r, _ = read_response(s)
    c.eq("oversized header: 431", (r.status, r.json()["error"]), (431, "headers_too_large"))
    c.check("oversized header: connection closed", closed_by_peer(s))
    s.close()
    s = d.raw()
    s.sendall(("GET /healthz?" + "a" * 3000 + " HTTP/1.1\r\n\r\n").encode())
    r, _ = read_response(s)
    c.eq("oversized request line: 431", r.status, 431)
    s.close()
    s = d.raw()
    s.sendall(b"GET /healthz HTTP/1.1\r\n" + b"".join(b"X-H%d: 1\r\n" % i for i in range(120)) + b"\r\n")
    r, _ = read_response(s)
    c.eq("too many header fields: 431", r.status, 431)
    s.close()

    # ---- 413 body too large ----
    big = json.dumps({"from": HANDSET, "to": OURS, "body": "x" * 5000}).encode()
    s = d.raw()
    s.sendall(req("POST", "/v1/inbound", big))
    r, _ = read_response(s)
    c.eq("oversized body: 413", (r.status, r.json()["error"]), (413, "body_too_large"))
    c.check("oversized body: connection closed", closed_by_peer(s))
    s.close()
    s = d.raw()
    s.sendall(b"POST /v1/inbound HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n" + b"".join(b"400\r\n" + b"x" * 1024 + b"\r\n" for _ in range(5)))
    r, _ = read_response(s)
    c.eq("oversized chunked body: 413", r.status, 413)
    s.close()
    batch = json.dumps({"from": OURS, "to": [f"+1415555{i:04d}" for i in range(600)]}).encode()
    c.check("batch body is above the plain body limit", 4096 < len(batch) < 16384, len(batch))
    r = d.request("POST", "/v1/check", body=batch, headers={"Content-Type": "application/json"})
    c.eq("batch check may use the larger batch limit", r.status, 200)
    batch = json.dumps({"from": OURS, "to": [f"+1415555{i:04d}" for i in range(1200)]}).encode()
    r = d.request("POST", "/v1/check", body=batch, headers={"Content-Type": "application/json"})
    c.eq("batch above the batch limit: 413", r.status, 413)

    # ---- 400 garbage ----
    s = d.raw()
    s.sendall(b"HELLO THERE\r\n\r\n")
    r, _ = read_response(s)
    c.eq("garbage request line: 400", (r.status, r.json()["error"]), (400, "bad_request"))
    s.close()
    s = d.raw()
    s.sendall(b"GET http://example.com/healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    r, _ = read_response(s)
    c.eq("absolute-form target: 400", r.status, 400)
    s.close()

    # ---- timeouts ----
    s = d.raw()
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # headers never finish
    t0 = time.time()
    r, _ = read_response(s)
    took = time.time() - t0
    c.eq("slow headers: 408", (r.status, r.json()["error"]), (408, "request_timeout"))
    c.check("slow headers: after the header timeout", 0.4 < took < 3, took)
    c.check("slow headers: connection closed", closed_by_peer(s))
    s.close()
    s = d.raw()  # slowloris: one header byte at a time keeps failing at the deadline
    t0 = time.time()
    line = b"GET /healthz HTTP/1.1\r\nX-Slow: "
    try:
        for ch in line + b"a" * 40:
            s.sendall(bytes([ch]))
            time.sleep(0.05)
    except OSError:
        pass
    r, _ = read_response(s)
    c.check("trickled headers: 408 at the deadline, not reset by each byte",
            r.status == 408 and time.time() - t0 < 3, (r.status, time.time() - t0))
    s.close()
    s = d.raw()
    s.sendall(b"POST /v1/inbound HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"a\":")
    r, _ = read_response(s)
    c.eq("slow body: 408", r.status, 408)
    s.close()
    s = d.raw()
    s.sendall(req("GET", "/healthz"))
    r, _ = read_response(s)
    t0 = time.time()
    closed = closed_by_peer(s, 5)
    c.check("idle keep-alive connection closed after the idle timeout",
            closed and 0.9 < time.time() - t0 < 4, time.time() - t0)
    s.close()
    s = d.raw()
    c.check("a connection that sends nothing is closed", closed_by_peer(s, 5))
    s.close()

    # ---- a client that disconnects while its write is queued ----
    s = d.raw()
    s.sendall(inbound_req("gone-1", frm="+14155550111"))
    s.close()
    for _ in range(50):  # committed in well under a second, later on a loaded machine
        time.sleep(0.1)
        r = d.get("/v1/audit")
        if b'"gone-1"' in r.body:
            break
    c.check("write of a client that left is still recorded", b'"gone-1"' in r.body)
    r = d.get("/healthz")
    c.eq("daemon fine after the client left", r.status, 200)
    random_close(c, d)


def random_close(c, d):
    """Clients that vanish at random points: mid-headers, mid-body, with
    writes queued, with answers unread. The daemon must stay healthy."""
    import random
    rnd = random.Random(4)
    stream = b"".join([inbound_req(f"rc-{i}", frm=f"+1415559{i:04d}") + check_req() for i in range(8)])
    for i in range(150):
        s = d.raw()
        cut = rnd.randrange(1, len(stream))
        try:
            s.sendall(stream[:cut])
            if rnd.random() < 0.5:
                time.sleep(rnd.random() * 0.02)
            if rnd.random() < 0.3:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST
        except OSError:
            pass
        s.close()
    time.sleep(0.5)
    r = d.get("/healthz")
    c.eq("after 150 random disconnects: healthy", r.status, 200)
    m = d.get("/metrics").body.decode()
    open_line = [ln for ln in m.splitlines() if ln.startswith("stopgate_connections_open")]
    c.check("after random disconnects: no connection leaked", open_line and int(open_line[0].split()[1]) <= 2, open_line)


def small_daemons(c):
    # ---- connection limit ----
    d = Daemon(config={"limits": {"maxConnections": 4, "headerTimeoutMs": 5000}}).start()
    try:
        time.sleep(0.2)  # the readiness probe's connection is gone
        socks = [d.raw() for _ in range(4)]
        for s in socks:
            s.sendall(req("GET", "/healthz"))
            read_response(s)
        extra = d.raw()
        r, _ = read_response(extra)
        c.eq("connection limit: 503 too_many_connections", (r.status, r.json()["error"]), (503, "too_many_connections"))
        c.eq("connection limit: Retry-After", r.header("retry-after"), "1")
        extra.close()
        socks[0].close()
        time.sleep(0.2)
        s = d.raw()
        s.sendall(req("GET", "/healthz"))
        r, _ = read_response(s)
        c.eq("connection limit: a freed slot is usable again", r.status, 200)
        s.close()
        for s in socks[1:]:
            s.close()
    finally:
        c.eq("clean exit (connection limit daemon)", d.stop(), 0)
        d.cleanup()

    # ---- writer queue full: 503 + Retry-After, never unbounded memory ----
    d = Daemon(config={"limits": {"writerQueue": 16, "maxPipelined": 64}}).start()
    try:
        saw = {}
        lock = threading.Lock()

        def flood(k, rnd):
            s = d.raw(timeout=30)
            try:
                n = 40
                s.sendall(b"".join(inbound_req(f"q{rnd}-{k}-{i}", frm=f"+1415556{k:02d}{i:02d}") for i in range(n)))
                rest = b""
                for _ in range(n):
                    r, rest = read_response(s, rest)
                    with lock:
                        saw.setdefault(r.status, []).append(r)
            finally:
                s.close()
        for rnd in range(5):
            threads = [threading.Thread(target=flood, args=(k, rnd)) for k in range(25)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            if 503 in saw:
                break
        c.check("full writer queue: some writes answered 503", 503 in saw, {k: len(v) for k, v in saw.items()})
        c.check("full writer queue: others committed (200)", 200 in saw)
        c.eq("full writer queue: only 200 and 503", sorted(saw), [200, 503])
        if 503 in saw:
            r = saw[503][0]
            c.eq("503 carries Retry-After: 1 and error busy", (r.header("retry-after"), r.json()["error"]), ("1", "busy"))
        m = d.get("/metrics").body.decode()
        rejected = [ln for ln in m.splitlines() if ln.startswith("stopgate_writer_rejected_total")]
        c.check("metrics count the rejected writes", rejected and int(rejected[0].split()[1]) == len(saw.get(503, [])), rejected)
    finally:
        c.eq("clean exit (writer queue daemon)", d.stop(), 0)
        d.cleanup()

    # ---- IPv6 ----
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        have6 = True
    except OSError:
        have6 = False
    if have6:
        d = Daemon()
        d.listen = f"[::1]:{d.port}"
        d.host = "::1"
        d.start()
        try:
            c.eq("IPv6 listen [::1]: healthz", d.get("/healthz").status, 200)
        finally:
            c.eq("clean exit (IPv6 daemon)", d.stop(), 0)
            d.cleanup()
    else:
        print("note: no IPv6 loopback here; IPv6 case skipped")


run("test_http", test)
