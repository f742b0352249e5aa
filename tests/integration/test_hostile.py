# SPDX-License-Identifier: Apache-2.0
"""Hostile and broken input against `stopgate serve`, beyond test_http.py
(sizes, timeouts, garbage, random disconnects) and test_api.py (400/415/
422 basics): thousands of idle connections at and above the connection
limit and past the process's file descriptor limit, pipelined floods from
a client that does not read, invalid UTF-8 and NUL bytes in bodies,
numbers and query strings, overlong numbers, JSON nested 10,000 deep,
duplicate JSON keys (the first one counts), wrong content types, replayed
Telnyx webhooks (the signature covers the timestamp; test_webhooks.py
has the signature checks themselves), and path traversal (the daemon takes no file names over HTTP; the CLI's file
arguments fail cleanly on directories, devices and symlinks). Every case
gets its documented error and the daemon keeps serving the others."""
import json
import os
import resource
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sgtest import BIN, Daemon, closed_by_peer, q, read_response, run  # noqa: E402

OURS = "+14155550100"
HANDSET = "+14155550199"

# Idle connections: IDLE of them against a limit of LIMIT (fewer when the
# descriptor limit here is low; the test and the daemon need one each).
_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
_want = 2500 + 2 * 256
if _soft < _want and (_hard == resource.RLIM_INFINITY or _hard > _soft):
    resource.setrlimit(resource.RLIMIT_NOFILE, (_want if _hard == resource.RLIM_INFINITY else min(_want, _hard), _hard))
IDLE = max(300, min(2500, resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 256))
LIMIT = IDLE * 4 // 5


def req(method, path, body=b"", ctype="application/json", headers=None):
    h = {"Host": "x"}
    if body or method in ("POST", "PUT"):
        h["Content-Length"] = str(len(body))
        if ctype:
            h["Content-Type"] = ctype
    h.update(headers or {})
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
    return head.encode() + body


def raw_json(d, path, body, method="POST", ctype="application/json"):
    """Send body bytes as they are; returns the Response."""
    s = d.raw()
    try:
        s.sendall(req(method, path, body, ctype))
        r, _ = read_response(s)
        return r
    finally:
        s.close()


def healthy(d):
    return d.get("/healthz", timeout=5).status == 200


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def sanitized():
    """An ASan build keeps freed memory in quarantine: RSS says nothing."""
    try:
        with open(BIN, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def test(c):
    d = Daemon(config={"limits": {"maxConnections": LIMIT, "headerTimeoutMs": 10000, "idleTimeoutMs": 30000,
                                  "maxPipelined": 16}}).start()
    try:
        idle_connections(c, d)
        pipelined_flood(c, d)
        utf8_and_nul(c, d)
        overlong_numbers(c, d)
        deep_json(c, d)
        duplicate_keys(c, d)
        content_types(c, d)
        no_files_over_http(c, d)
        c.check("daemon healthy after every hostile case", healthy(d))
    finally:
        c.eq("clean exit after the hostile cases", d.stop(), 0)
        d.cleanup()
    fd_exhaustion(c)
    webhook_replay(c)
    cli_file_arguments(c)
    private_files(c)


# ---- connections ----

def open_idle(d, n):
    socks = []
    for _ in range(n):
        try:
            socks.append(d.raw(timeout=5))
        except OSError:
            break
    return socks


def idle_connections(c, d):
    """2,500 connections that send nothing against a limit of 2,000: the
    ones above the limit get 503 too_many_connections and are closed; a
    client that connected before keeps being served; when the header
    timeout closes the idle ones, new clients are served again."""
    keep = d.conn(timeout=10)
    c.eq("idle flood: a keep-alive client before it", d.get("/healthz", conn=keep).status, 200)
    socks = open_idle(d, IDLE)
    c.eq(f"idle flood: {IDLE} connections opened (limit {LIMIT})", len(socks), IDLE)
    # the refusals arrive as the loops accept: wait for them (up to 10 s) rather than
    # give each socket a fixed moment, which a loaded machine may not keep. Watch
    # every socket: each HTTP loop accepts from its own queue, so the ones refused
    # are the last each loop took, not the last ones opened
    refused, deadline = 0, time.time() + 10
    waiting = {s.fileno(): s for s in socks}
    poll = select.poll()  # descriptors above 1024: no select()
    for fd in waiting:
        poll.register(fd, select.POLLIN)
    while waiting and time.time() < deadline:
        ready = poll.poll(200)
        for fd, _ in ready:
            poll.unregister(fd)
            try:
                data = waiting.pop(fd).recv(4096)
            except OSError:
                continue
            if b" 503 " in data and b"too_many_connections" in data:
                refused += 1
        if refused >= IDLE - LIMIT - 10 and not ready:
            break  # the rest are idle connections within the limit
    c.check("idle flood: connections above the limit answered 503 too_many_connections",
            IDLE - LIMIT - 10 <= refused <= IDLE - LIMIT + 10, refused)
    t0 = time.time()
    r = d.get("/v1/check?from=" + q(OURS) + "&to=" + q(HANDSET), conn=keep)
    c.check("idle flood: the earlier client is still served, promptly",
            r.status == 200 and time.time() - t0 < 1, (r.status, time.time() - t0))
    s = d.raw()
    r, _ = read_response(s)
    c.eq("idle flood: a new client at the limit gets 503 + Retry-After",
         (r.status, r.header("retry-after")), (503, "1"))
    s.close()
    # the header timeout (10 s: long enough that a loaded machine opens the
    # flood and makes the checks above before it ends) closes every idle one
    kept = [s for s in socks if s.fileno() in waiting]  # the ones not answered
    closed = sum(1 for s in kept[:LIMIT - 10] if closed_by_peer(s, 14))
    c.check("idle flood: idle connections closed by the header timeout", closed >= LIMIT - 20, closed)
    for s in socks:
        s.close()
    time.sleep(0.3)
    c.check("idle flood: new clients served again", healthy(d))
    m = d.get("/metrics").body.decode()
    refused_metric = [ln for ln in m.splitlines() if ln.startswith("stopgate_connections_refused_total")]
    c.check("idle flood: refusals counted in /metrics",
            refused_metric and int(refused_metric[0].split()[1]) >= refused, refused_metric)
    keep.close()


def quiet_cpu(pid, seconds=1.0):
    """The share of one CPU the process used while nothing was asked of it
    (its own utime + stime: other load on the machine does not count)."""
    t0, c0 = time.time(), cpu_ticks(pid)
    time.sleep(seconds)
    return (cpu_ticks(pid) - c0) / os.sysconf("SC_CLK_TCK") / (time.time() - t0)


def checks_answered(d, timeout=6):
    """A new client gets a check answered within timeout (retrying)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if d.get("/v1/check?from=" + q(OURS) + "&to=" + q(HANDSET), timeout=2).status == 200:
                return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def accept_failures(d):
    return [ln for ln in d.log().splitlines() if "accept failed" in ln]


def fd_exhaustion(c):
    for loops in (2, 4):
        fd_limit_at_start(c, loops)
    for loops in (2, 4):
        fd_limit_lowered(c, loops)


def fd_limit_at_start(c, loops):
    """Started with RLIMIT_NOFILE 128 (limit of connections 4,096): the
    daemon lowers its connection limit to what the descriptors allow and
    says so, so 300 clients get the limit's 503 rather than meet EMFILE;
    it does not spin, and it serves again when they go."""
    tag = f"fd limit 128 at start, {loops} loops"
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (128, hard))
    try:
        d = Daemon(config={"httpThreads": loops, "limits": {"headerTimeoutMs": 3000}}).start()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    try:
        said = [ln for ln in d.log().splitlines() if "maxConnections lowered" in ln]
        limit = int(said[0].split("max_connections=")[1].split()[0]) if said else 0
        c.check(f"{tag}: maxConnections lowered to what the descriptors allow, and logged",
                said and 8 <= limit <= 100 and "configured=4096" in said[0] and "nofile=128" in said[0], said)
        keep = d.conn(timeout=10)
        c.eq(f"{tag}: a keep-alive client before it", d.get("/healthz", conn=keep).status, 200)
        socks = open_idle(d, 300)
        refused = 0
        for s in socks[limit:]:
            s.settimeout(2)
            try:
                data = s.recv(4096)
            except OSError:
                continue
            refused += b" 503 " in data and b"too_many_connections" in data
        # (a few more are served when a loaded machine opens them slower
        # than the header timeout closes the first ones)
        c.check(f"{tag}: clients beyond the lowered limit answered 503 too_many_connections",
                refused >= 300 - limit - 40, (refused, limit))
        cpu = quiet_cpu(d.proc.pid)
        c.check(f"{tag}: the daemon does not spin while the descriptors are taken (< 30% of a CPU)", cpu < 0.3, cpu)
        c.eq(f"{tag}: the earlier client is still served", d.get("/healthz", conn=keep).status, 200)
        hanging = sum(1 for s in socks if not closed_by_peer(s, 4))
        c.eq(f"{tag}: no client left hanging (refused, or closed by the header timeout)", hanging, 0)
        for s in socks:
            s.close()
        c.check(f"{tag}: checks answered again once the clients went", checks_answered(d))
        cpu = quiet_cpu(d.proc.pid)
        c.check(f"{tag}: quiet afterwards (< 20% of a CPU)", cpu < 0.2, cpu)
        c.eq(f"{tag}: no accept failure (the limit came first)", accept_failures(d), [])
        keep.close()
    finally:
        c.eq(f"{tag}: clean exit", d.stop(), 0)
        d.cleanup()


def fd_limit_lowered(c, loops):
    """The descriptor limit lowered under the running daemon (prlimit), so
    that accept() itself fails with EMFILE on every loop: the loops shed or
    pause rather than spin (one reserve descriptor for the process, taken
    under a lock), the failures are logged at a bounded rate, the daemon
    keeps serving the connections it has, and new ones once the clients go."""
    tag = f"fd limit lowered at run time, {loops} loops"
    d = Daemon(config={"httpThreads": loops, "limits": {"headerTimeoutMs": 2000}}).start()
    try:
        keep = d.conn(timeout=10)
        c.eq(f"{tag}: a keep-alive client before it", d.get("/healthz", conn=keep).status, 200)
        pid = d.proc.pid
        soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (len(os.listdir(f"/proc/{pid}/fd")) + 24, hard))
        socks = open_idle(d, 200)
        refused = handled = 0
        for s in socks[30:]:
            s.settimeout(3)
            try:
                data = s.recv(4096)
            except OSError:
                continue
            # shed with 503 through the reserve; or accepted once descriptors
            # came free and cut off by the header timeout (408); or closed
            refused += b" 503 " in data and b"too_many_connections" in data
            handled += data == b"" or b" 503 " in data or b" 408 " in data
        c.check(f"{tag}: clients beyond the descriptors answered 503 and closed (the reserve)",
                refused >= 120, (refused, handled))
        c.check(f"{tag}: none of them left hanging", handled >= 170 - 5, (refused, handled))
        cpu = quiet_cpu(pid)
        c.check(f"{tag}: the daemon does not spin while accept() fails (< 30% of a CPU)", cpu < 0.3, cpu)
        failed = accept_failures(d)
        c.check(f"{tag}: accept failures (EMFILE) met, logged at a bounded rate",
                1 <= len(failed) <= 100 and "too many open files" in failed[0].lower(), len(failed))
        c.eq(f"{tag}: the earlier client is still served", d.get("/healthz", conn=keep).status, 200)
        for s in socks:
            s.close()
        c.check(f"{tag}: checks answered again once the clients went", checks_answered(d))
        cpu = quiet_cpu(pid)
        c.check(f"{tag}: quiet afterwards (< 20% of a CPU)", cpu < 0.2, cpu)
        c.eq(f"{tag}: still running", d.proc.poll(), None)
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
        keep.close()
    finally:
        c.eq(f"{tag}: clean exit", d.stop(), 0)
        d.cleanup()


def pipelined_flood(c, d):
    """20,000 pipelined checks (2 MB) from a client that does not read for
    two seconds: the daemon stops reading it (back-pressure), memory stays
    bounded, other clients are served promptly, and then every answer
    comes, in order."""
    n = 20000
    reqs = b"".join(req("GET", f"/v1/check?from={q(OURS)}&to={q('+1415557%04d' % (i % 10000))}")
                    for i in range(n))
    before = rss_kib(d.proc.pid)
    s = d.raw(timeout=30)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    sent = []

    def send():
        try:
            s.sendall(reqs)
            sent.append(True)
        except OSError:
            pass
    t = threading.Thread(target=send)
    t.start()
    time.sleep(2)
    slow = []
    for _ in range(10):
        t0 = time.time()
        ok = d.get("/v1/check?from=" + q(OURS) + "&to=" + q(HANDSET), timeout=5).status == 200
        slow.append(time.time() - t0 if ok else 99)
    c.check("pipelined flood: other clients served within 1 s", max(slow) < 1, max(slow))
    grown = rss_kib(d.proc.pid) - before
    if sanitized():
        print(f"note: sanitizer build, memory growth not judged ({grown} KiB)")
    else:
        c.check("pipelined flood: daemon memory bounded (< 32 MiB growth) while the client does not read",
                grown < 32 * 1024, f"{grown} KiB")
    got, rest, order_ok = 0, b"", True
    while got < n:
        r, rest = read_response(s, rest)
        if r.status != 200 or b'"allow"' not in r.body:
            order_ok = False
        got += 1
    t.join(10)
    c.check("pipelined flood: all 20,000 answered, 200, in order", got == n and order_ok and sent, (got, order_ok))
    s.close()
    # the same with writes: each one is 200, or 503 busy when the queue is full
    s = d.raw(timeout=30)
    s.sendall(b"".join(req("POST", "/v1/inbound", json.dumps(
        {"id": f"flood-{i}", "from": f"+1415558{i:04d}", "to": OURS, "body": "STOP"}).encode()) for i in range(2000)))
    statuses, rest = {}, b""
    for _ in range(2000):
        r, rest = read_response(s, rest)
        statuses[r.status] = statuses.get(r.status, 0) + 1
    s.close()
    c.check("pipelined write flood: 2,000 answers, each 200 (or 503 busy)",
            set(statuses) <= {200, 503} and sum(statuses.values()) == 2000 and statuses.get(200), statuses)


# ---- content ----

def utf8_and_nul(c, d):
    def inbound(body, **kw):
        obj = {"from": HANDSET, "to": OURS, "body": "STOP"}
        obj.update(kw)
        return body if body is not None else json.dumps(obj).encode()
    r = raw_json(d, "/v1/inbound", b'{"from":"+14155550199","to":"+14155550100","body":"\xff\xfeSTOP\xc3"}')
    c.check("invalid UTF-8 in a body: never dropped, read with U+FFFD (an opt-out, recorded)",
            r.status == 200 and r.json()["intent"] == "opt_out" and r.json()["event"], r)
    r = raw_json(d, "/v1/inbound", b'{"id":"u8-from","from":"+1415\xff5550111","to":"+14155550100","body":"STOP"}')
    c.check("invalid UTF-8 in the handset number: the STOP is kept, quarantined",
            r.status == 200 and r.json()["quarantined"] and r.json()["recipient"].startswith("raw:"), r)
    r = raw_json(d, "/v1/inbound", b'{"from":"+14155550199","to":"+1415\xff5550100","body":"STOP"}')
    c.eq("invalid UTF-8 in our number: 422 invalid_number", (r.status, r.json()["error"]), (422, "invalid_number"))
    r = raw_json(d, "/v1/consent", b'{"from":"+14155550100","to":"+14155550112","action":"opt_out","note":"\xc3("}')
    c.eq("invalid UTF-8 in a note: recorded as sent (200)", r.status, 200)
    r = d.get("/v1/audit")
    lines = [json.loads(ln) for ln in r.body.decode("utf-8").splitlines() if ln]
    c.check("audit after invalid UTF-8: every line is valid JSON, the bad byte shown as U+FFFD",
            any(e.get("note") == "\ufffd(" for e in lines), [e.get("note") for e in lines][-3:])

    r = raw_json(d, "/v1/inbound", b'{"from":"+14155550199","to":"+14155550100","body":"ST\x00OP"}')
    c.eq("raw NUL byte in a JSON body: 400 bad_json", (r.status, r.json()["error"]), (400, "bad_json"))
    for field in ("body", "from", "to"):
        obj = {"from": "+14155550113", "to": OURS, "body": "STOP"}
        obj[field] = obj[field] + "\u0000 trailing"
        r = d.post("/v1/inbound", obj)
        c.eq(f"\\u0000 in {field}: 422 invalid_field (never silently cut at the NUL)",
             (r.status, r.json()["error"]), (422, "invalid_field"))
    r = d.post("/v1/consent", {"from": OURS, "to": "+14155550113", "action": "opt_out\u0000"})
    c.eq("\\u0000 in a consent field: 422 invalid_field", (r.status, r.json()["error"]), (422, "invalid_field"))
    r = d.post("/v1/inbound", {"from": "+14155550113", "to": OURS, "body": "\\u0000 is text"})
    c.eq("an escaped backslash before u0000 is ordinary text: 200", r.status, 200)
    r = d.get("/v1/check?from=" + q(OURS) + "&to=%2B14155550113%00junk")
    c.eq("%00 in a query value: 422 invalid_field", (r.status, r.json()["error"]), (422, "invalid_field"))
    r = d.get("/v1/consent?from=" + q(OURS) + "&to=%2B14155550113%00")
    c.eq("%00 in a consent query: 422", r.status, 422)
    s = d.raw()
    s.sendall(b"GET /healthz\x00 HTTP/1.1\r\nHost: x\r\n\r\n")
    r, _ = read_response(s)
    c.eq("NUL in the request line: 400", r.status, 400)
    s.close()
    s = d.raw()
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n")
    r, _ = read_response(s)
    c.eq("NUL in a header value: 400", r.status, 400)
    s.close()
    c.check("daemon healthy after UTF-8 and NUL cases", healthy(d))


def overlong_numbers(c, d):
    long_num = "+1" + "4" * 5000
    r = d.get(f"/v1/check?from={q(OURS)}&to={q(long_num)}")
    c.check("overlong number in a check: a 422 or an invalid_number deny, never allow",
            r.status == 422 or (r.status == 200 and r.json()["reason"] == "invalid_number"), r)
    r = d.post("/v1/check", {"from": OURS, "to": [long_num, HANDSET]})
    c.check("overlong number in a batch: that one is invalid_number, the other answered",
            r.status == 200 and r.json()["results"][0]["reason"] == "invalid_number"
            and r.json()["results"][1]["reason"] != "invalid_number", r)
    r = d.post("/v1/inbound", {"from": HANDSET, "to": long_num, "body": "STOP"})
    c.eq("overlong our number: 422 invalid_number", (r.status, r.json()["error"]), (422, "invalid_number"))
    r = d.post("/v1/inbound", {"id": "long-from", "from": long_num, "to": OURS, "body": "STOP"})
    c.check("overlong handset with STOP: kept (quarantined, bounded key)",
            r.status == 200 and r.json()["quarantined"] and len(r.json()["recipient"]) < 200, r)
    r = d.post("/v1/consent", {"from": OURS, "to": long_num, "action": "opt_out"})
    c.eq("overlong number in consent: 422 invalid_number", (r.status, r.json()["error"]), (422, "invalid_number"))
    r = d.put("/v1/senders/" + q(long_num), {"campaignId": "C1"})
    c.check("overlong number as a sender path: 4xx", r.status in (404, 414, 422, 431), r)
    r = d.post("/v1/inbound", {"from": HANDSET, "to": OURS, "body": "STOP", "id": "x" * 5000})
    c.check("overlong message id: the STOP is recorded (never dropped for its id)",
            r.status == 200 and r.json()["action"] == "opt_out" and r.json()["event"], r)
    again = d.post("/v1/inbound", {"from": HANDSET, "to": OURS, "body": "STOP", "id": "x" * 5000})
    c.check("overlong message id: its retry is a duplicate", again.status == 200 and again.json()["duplicate"], again)


def deep_json(c, d):
    deep_arr = b"[" * 10000 + b"]" * 10000
    deep_obj = b'{"a":' * 10000 + b"1" + b"}" * 10000
    for path, method in (("/v1/inbound", "POST"), ("/v1/consent", "POST"), ("/v1/check", "POST"),
                         ("/v1/campaigns/C1", "PUT"), ("/v1/senders/%2B14155550100", "PUT")):
        for name, body in (("arrays", deep_arr), ("objects", deep_obj)):
            r = raw_json(d, path, body, method=method)
            c.eq(f"JSON {name} nested 10,000 deep on {method} {path}: 400 bad_json",
                 (r.status, r.json()["error"]), (400, "bad_json"))
    inner = b'{"from":"+14155550100","to":["+14155550199"],"x":' + b"[" * 10000 + b"]" * 10000 + b"}"
    r = raw_json(d, "/v1/check", inner)
    c.eq("deep nesting inside an otherwise valid batch: 400", r.status, 400)
    c.check("daemon healthy after deep JSON", healthy(d))


def duplicate_keys(c, d):
    """A key given twice: the first one counts (cJSON's lookup), everywhere."""
    r = raw_json(d, "/v1/inbound", b'{"id":"dup-1","from":"+14155550121","from":"+14155550122",'
                 b'"to":"+14155550100","body":"STOP","body":"START"}')
    c.check("duplicate keys in inbound: the first from and body count",
            r.status == 200 and r.json()["recipient"] == "+14155550121" and r.json()["intent"] == "opt_out", r)
    r = raw_json(d, "/v1/consent", b'{"from":"+14155550100","to":"+14155550123","action":"opt_out","action":"opt_in"}')
    c.check("duplicate keys in consent: the first action counts",
            r.status == 200 and r.json()["action"] == "opt_out", r)
    r = raw_json(d, "/v1/check", b'{"from":"+14155550100","to":["+14155550121"],"to":["+14155550122","+14155550123"]}')
    c.check("duplicate keys in a batch: the first list counts",
            r.status == 200 and [x["to"] for x in r.json()["results"]] == ["+14155550121"], r)
    again = raw_json(d, "/v1/inbound", b'{"id":"dup-1","from":"+14155550121","from":"+14155550122",'
                     b'"to":"+14155550100","body":"STOP","body":"START"}')
    c.check("duplicate keys: deterministic (the retry is a duplicate of the same event)",
            again.status == 200 and again.json()["duplicate"] and again.json()["event"] == r.json().get("event", again.json()["event"]), again)


def content_types(c, d):
    body = json.dumps({"from": OURS, "to": [HANDSET]}).encode()
    for ctype, want in (("application/json", 200), ("APPLICATION/JSON", 200), ("application/json; charset=utf-8", 200),
                        ("application/json ; charset=utf-8", 200), ("application/jsonp", 415), ("text/json", 415),
                        ("application/json-seq", 415), ("application/x-www-form-urlencoded", 415),
                        ("multipart/form-data; boundary=x", 415), ("text/plain", 415), ("", 415),
                        ("application/json\tx", 200)):
        r = raw_json(d, "/v1/check", body, ctype=ctype)
        c.eq(f"POST /v1/check with Content-Type {ctype!r}: {want}", r.status, want)
    s = d.raw()
    s.sendall(b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body) + body)
    r, _ = read_response(s)
    c.eq("two Content-Type headers: the first counts (415)", r.status, 415)
    s.close()
    r = raw_json(d, "/v1/campaigns/C1", b'{"campaignId":"C1"}', method="PUT", ctype="text/plain")
    c.eq("PUT with a wrong content type: 415", r.status, 415)
    r = d.request("GET", "/v1/check?from=" + q(OURS) + "&to=" + q(HANDSET), body=b"<xml/>",
                  headers={"Content-Type": "application/xml"})
    c.eq("GET with an ignored body of another type: 200", r.status, 200)


def no_files_over_http(c, d):
    """The daemon opens no file named by a request: paths with dot
    segments do not route, ids with encoded slashes stay opaque ids, and
    unknown parameters naming files are ignored."""
    before = sorted(os.listdir(d.data))
    probe = os.path.join(d.tmp, "probe-out")
    for path in ("/../../etc/passwd", "/v1/audit/../../etc/passwd", "/v1/%2e%2e/%2e%2e/etc/passwd",
                 "/v1/webhooks/..%2F..%2Fetc%2Fpasswd", "/v1/webhooks/../../etc/passwd", "//etc/passwd",
                 "/v1/check/../audit"):
        r = d.get(path)
        c.check(f"GET {path}: 404, nothing served from disk", r.status == 404 and b"root:" not in r.body, r)
    r = d.get("/v1/audit?output=" + q(probe) + "&file=" + q("../../etc/passwd") + "&format=csv")
    c.check("file-like query parameters are ignored: no file written",
            r.status == 200 and not os.path.exists(probe) and b"root:" not in r.body, r)
    r = d.put("/v1/campaigns/" + q("../../../tmp/sg-trav"), {"campaignId": "../../../tmp/sg-trav"})
    c.check("a campaign id with ../ is an opaque id (stored or refused), never a path",
            r.status in (200, 404, 422) and not os.path.exists("/tmp/sg-trav"), r)
    c.eq("no new files in the data directory", sorted(os.listdir(d.data)), before)


# ---- replayed webhooks ----

# The signed Telnyx vector of tests/data/webhooks (VECTORS.md).
TELNYX_KEY = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="
TELNYX_TS = 1548267002
TELNYX_SIG = "ytYFl80lQxs4wcUScYH8XQsouJUzQgjMfp6BPGNagEkoGWPs02yMZR/nH5gsZHE0EUxJ3cdGkRHMvnF8lAKeBg=="


def telnyx_daemon(clock, data=None):
    return Daemon(config={"providers": {"telnyx": {"publicKey": TELNYX_KEY}}}, data=data,
                  env={"STOPGATE_TEST_CLOCK": str(clock)}).start()


def telnyx_post(d, ts, sig=TELNYX_SIG):
    with open(os.path.join(os.environ.get("SG_TEST_DATA", ""), "webhooks", "telnyx-stop-signed.json"), "rb") as f:
        body = f.read()
    return d.request("POST", "/v1/webhooks/telnyx", body=body, headers={
        "Content-Type": "application/json", "telnyx-timestamp": str(ts), "telnyx-signature-ed25519": sig})


def webhook_replay(c):
    """A captured, correctly signed Telnyx STOP sent again: within the
    window it is a duplicate (nothing recorded twice); an hour later it is
    refused, also with its timestamp header moved to now."""
    data = tempfile.mkdtemp(prefix="sg-replay-")
    try:
        d = telnyx_daemon(TELNYX_TS + 10, data)
        try:
            r = telnyx_post(d, TELNYX_TS)
            c.eq("webhook replay: the original signed STOP is recorded", (r.status, r.json()["intent"]), (200, "opt_out"))
            n = d.get("/healthz").json()["events"]
            r = telnyx_post(d, TELNYX_TS)
            c.eq("webhook replay within the window: 200 duplicate", (r.status, r.json().get("duplicate")), (200, True))
            c.eq("webhook replay within the window: nothing recorded", d.get("/healthz").json()["events"], n)
        finally:
            d.stop()
            d.cleanup()
        later = TELNYX_TS + 3600
        d = telnyx_daemon(later, data)
        try:
            r = telnyx_post(d, TELNYX_TS)
            c.eq("webhook replayed an hour later (old timestamp): 403", r.status, 403)
            r = telnyx_post(d, later)
            c.eq("webhook replayed with its timestamp header moved to now: 403", r.status, 403)
            r = telnyx_post(d, later, sig=TELNYX_SIG[:-4] + "AAA=")
            c.eq("webhook with a forged signature: 403", r.status, 403)
            c.eq("refused replays recorded nothing", d.get("/healthz").json()["events"], n)
        finally:
            d.stop()
            d.cleanup()
    finally:
        subprocess.run(["rm", "-rf", data])


# ---- CLI file arguments ----

def sg(*args, timeout=30, data=None):
    cmd = [BIN] + list(args)
    if data:
        cmd += ["--data", data]
    return subprocess.run(cmd, capture_output=True, timeout=timeout)


def cli_file_arguments(c):
    tmp = tempfile.mkdtemp(prefix="sg-hostile-")
    data = os.path.join(tmp, "data")
    try:
        sg("init", data=data)  # only init and serve create a store
        p = sg("optout", "--scope", "global", "-", HANDSET, data=data)
        c.eq("cli: an opt-out to export later", p.returncode, 0)
        for what, arg in (("a directory", tmp), ("/dev/zero", "/dev/zero"), ("a missing file", tmp + "/../nope/../x.json")):
            p = sg("check", OURS, HANDSET, "--config", arg, data=data, timeout=10)
            c.check(f"cli --config {what}: exit 2 with a message", p.returncode == 2 and p.stderr, (p.returncode, p.stderr))
        deep = os.path.join(tmp, "deep.json")
        with open(deep, "w") as f:
            f.write("[" * 10000 + "]" * 10000)
        p = sg("check", OURS, HANDSET, "--config", deep, data=data)
        c.check("cli --config nested 10,000 deep: exit 2", p.returncode == 2 and b"JSON" in p.stderr, p.stderr)
        p = sg("import", "campaigns", deep, data=data)
        c.check("cli import campaigns nested 10,000 deep: exit 2", p.returncode == 2, p.stderr)
        p = sg("check", OURS, HANDSET, "--keywords", tmp + "/../../nonexistent", data=data)
        c.eq("cli --keywords to a missing directory: exit 2", p.returncode, 2)
        for kind in ("optouts", "senders", "campaigns"):
            p = sg("import", kind, tmp, "--scope", "global", data=data) if kind == "optouts" else sg("import", kind, tmp, data=data)
            c.check(f"cli import {kind} of a directory: exit 2 with a message", p.returncode == 2 and p.stderr,
                    (p.returncode, p.stdout, p.stderr))
        p = sg("import", "optouts", "--scope", "global", "/dev/zero", data=data, timeout=30)
        c.eq("cli import optouts /dev/zero: exit 2 (record too long), no hang", p.returncode, 2)
        out = os.path.join(tmp, "audit.jsonl")
        p = sg("export", "audit", "--output", out, data=data)
        mode = os.stat(out).st_mode & 0o777 if os.path.exists(out) else None
        c.check("cli export --output: created 0600 (it holds personal data)", p.returncode == 0 and mode == 0o600,
                (p.returncode, oct(mode or 0), p.stderr))
        target = os.path.join(tmp, "victim")
        with open(target, "w") as f:
            f.write("keep me\n")
        link = os.path.join(tmp, "link.csv")
        os.symlink(target, link)
        p = sg("export", "optouts", "--output", link, data=data)
        with open(target) as f:
            kept = f.read() == "keep me\n"
        c.check("cli export --output through a symlink: refused, the target untouched",
                p.returncode == 2 and kept, (p.returncode, p.stderr))
    finally:
        subprocess.run(["rm", "-rf", tmp])


def private_files(c):
    """Every file the daemon creates is 0600 in a 0700 directory; a data
    directory someone left open to other users is reported at start."""
    d = Daemon().start()
    try:
        d.post("/v1/inbound", {"id": "perm-1", "from": HANDSET, "to": OURS, "body": "STOP"})
        modes = {f: os.stat(os.path.join(d.data, f)).st_mode & 0o777 for f in os.listdir(d.data)}
        c.eq("data directory 0700", os.stat(d.data).st_mode & 0o777, 0o700)
        c.check("every file in it 0600 (data.mdb, lock.mdb, filter.bits, writer.lock)",
                modes and all(m == 0o600 for m in modes.values()) and len(modes) >= 4, modes)
    finally:
        d.stop()
    os.chmod(d.data, 0o755)
    d2 = Daemon(data=d.data, config={"token": "t0k3n-in-a-0644-file"}).start()
    try:
        c.check("a data directory open to other users is reported",
                "data directory is open to other users" in d2.log(), d2.log()[-300:])
        c.check("a config file with a token open to other users is reported",
                "config file is open to other users" in d2.log() and "t0k3n" not in d2.log(), d2.log()[-300:])
    finally:
        d2.stop()
        d2.cleanup()
        d.cleanup()


run("test_hostile", test)
