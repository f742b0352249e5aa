# SPDX-License-Identifier: Apache-2.0
"""`stopgate serve` as a process: the bearer token, refusing a public
address without one, a second daemon on the same data directory, SIGHUP
reload without dropping connections, graceful shutdown with requests in
flight (every one answered and durable, clean exit), and a read-only
`stopgate check` in another process seeing the daemon's writes while it
keeps writing."""
import json
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sgtest import Daemon, closed_by_peer, q, read_response, run  # noqa: E402

OURS = "+14155550100"
TOKEN = "s3cret-token-for-tests-0123456789"


def inbound_bytes(msg_id, frm, body="STOP", token=None):
    payload = json.dumps({"id": msg_id, "provider": "t", "from": frm, "to": OURS, "body": body}).encode()
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return (f"POST /v1/inbound HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload


def wait(d, timeout=10):
    """Exit code of a daemon expected to stop by itself (None: it did not)."""
    try:
        return d.proc.wait(timeout)
    except Exception:  # noqa: BLE001
        d.stop()
        return None


def test(c):
    token_cases(c)
    startup_refusals(c)
    reload_and_cli(c)
    graceful_shutdown(c)


def token_cases(c):
    d = Daemon(token=TOKEN).start()
    try:
        r = d.get("/v1/check?from=%2B14155550100&to=%2B14155550199", headers={"Authorization": "x"})
        c.eq("token: wrong scheme 401", r.status, 401)
        r = d.request("GET", "/v1/check?from=%2B14155550100&to=%2B14155550199", headers={"Authorization": "Bearer nope"})
        c.eq("token: wrong token 401 unauthorized", (r.status, r.json()["error"]), (401, "unauthorized"))
        c.check("token: WWW-Authenticate: Bearer", (r.header("www-authenticate") or "").startswith("Bearer"))
        r = d.request("GET", "/v1/check?from=%2B14155550100&to=%2B14155550199", headers={"Authorization": "Bearer " + TOKEN[:-1]})
        c.eq("token: prefix of the token 401", r.status, 401)
        r = d.request("POST", "/v1/inbound", body=b"{}", headers={"Authorization": "", "Content-Type": "application/json"})
        c.eq("token: missing on a write 401", r.status, 401)
        r = d.get("/v1/check?from=%2B14155550100&to=%2B14155550199")
        c.eq("token: right token 200", r.status, 200)
        r = d.get("/metrics", headers={"Authorization": "Bearer nope"})
        c.eq("token: metrics protected", r.status, 401)
        r = d.get("/healthz", headers={"Authorization": "Bearer nope"})
        c.eq("token: healthz is public", r.status, 200)
        r = d.get("/v1/webhooks/someprovider", headers={"Authorization": "Bearer nope"})
        c.eq("token: webhooks are not behind the token", r.status, 404)
        r = d.get("/v1/nothing", headers={"Authorization": "Bearer nope"})
        c.eq("token: unknown path still 404", r.status, 404)
    finally:
        c.eq("token daemon: clean exit", d.stop(), 0)
        c.check("token never logged", TOKEN not in d.log() and "nope" not in d.log())
        d.cleanup()


def startup_refusals(c):
    d = Daemon()
    d.listen = f"0.0.0.0:{d.port}"
    d.start(wait=False)
    code = wait(d)
    c.eq("public address without a token: refused (exit 2)", code, 2)
    c.check("public address without a token: says why", "refusing to listen" in d.log(), d.log())
    d.cleanup()

    d = Daemon(token=TOKEN)
    d.listen = f"0.0.0.0:{d.port}"
    d.start()
    try:
        c.eq("public address with a token: serves", d.get("/healthz").status, 200)
    finally:
        d.stop()
        d.cleanup()

    d = Daemon().start()
    try:
        second = Daemon(data=d.data)
        second.start(wait=False)
        code = wait(second)
        c.eq("second serve on the same data directory: exit 2", code, 2)
        c.check("second serve: clear message", "in use by another stopgate" in second.log(), second.log())
        second.cleanup()
        c.eq("first daemon unaffected", d.get("/healthz").status, 200)
    finally:
        c.eq("first daemon: clean exit", d.stop(), 0)
        d.cleanup()

    d = Daemon(args=["--log-level", "loud"])
    d.start(wait=False)
    c.eq("bad --log-level: exit 2", wait(d), 2)
    d.cleanup()
    d = Daemon()
    d.listen = "nowhere"
    d.start(wait=False)
    c.eq("bad --listen: exit 2", wait(d), 2)
    c.check("bad --listen: says so", "cannot listen" in d.log(), d.log())
    d.cleanup()
    d = Daemon(args=["--help"])
    d.start(wait=False)
    c.eq("--help: exit 0", wait(d), 0)
    c.check("--help: usage printed", "usage: stopgate serve" in d.log())
    d.cleanup()


def reload_and_cli(c):
    d = Daemon().start()
    try:
        # SIGHUP with a keep-alive connection open.
        s = d.raw()
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        r, rest = read_response(s)
        d.kill(signal.SIGHUP)
        deadline = time.time() + 5
        while "reloaded" not in d.log() and time.time() < deadline:
            time.sleep(0.05)
        c.check("SIGHUP: reloaded", "reloaded keywords and campaigns" in d.log(), d.log()[-1000:])
        s.sendall(inbound_bytes("hup-1", "+14155550120"))
        r, rest = read_response(s, rest)
        c.eq("SIGHUP: the open connection still works (and writes)", (r.status, r.json()["intent"]), (200, "opt_out"))
        s.close()

        # A read-only check in another process sees the daemon's writes,
        # while the daemon keeps writing.
        stop = threading.Event()
        errors = []

        def keep_writing():
            conn = d.conn()
            i = 0
            while not stop.is_set():
                rr = d.post("/v1/consent", {"from": OURS, "to": f"+1415557{i % 10000:04d}", "action": "opt_out"}, conn=conn)
                if rr.status != 200:
                    errors.append(rr)
                i += 1
            conn.close()
        t = threading.Thread(target=keep_writing)
        t.start()
        try:
            p = d.cli("check", "--data", d.data, "--keywords", d.kw, OURS, "+14155550120")
            out = p.stdout.decode()
            c.eq("CLI check beside the daemon: exit 1 (deny)", p.returncode, 1)
            c.check("CLI check sees the daemon's opt-out", '"opted_out"' in out, out + p.stderr.decode())
            r = d.post("/v1/consent", {"from": OURS, "to": "+14155550121", "action": "opt_out"})
            p = d.cli("check", "--data", d.data, "--keywords", d.kw, OURS, "+14155550121")
            c.eq("CLI check sees a write answered a moment ago", p.returncode, 1)
            d.post("/v1/consent", {"from": OURS, "to": "+14155550121", "action": "opt_in"})
            p = d.cli("check", "--data", d.data, "--keywords", d.kw, OURS, "+14155550121")
            c.eq("CLI check sees the opt-in that followed", p.returncode, 0)
            p = d.cli("optout", "--data", d.data, "--keywords", d.kw, OURS, "+14155550122")
            c.eq("CLI write while the daemon runs: refused", p.returncode, 2)
        finally:
            stop.set()
            t.join()
        c.eq("daemon kept writing meanwhile", errors, [])
    finally:
        c.eq("reload daemon: clean exit", d.stop(), 0)
        d.cleanup()


def graceful_shutdown(c):
    d = Daemon().start()
    data = d.data
    n = 30
    socks = []
    try:
        # Every connection is accepted (one request answered) before the
        # writes and the signal, so each write is "in flight".
        for i in range(n):
            s = d.raw(timeout=20)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            r, rest = read_response(s)
            socks.append([s, rest])
        idle = d.raw()
        idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        read_response(idle)
        for i, (s, _) in enumerate(socks):
            s.sendall(inbound_bytes(f"shut-{i}", f"+1415558{i:04d}"))
        d.kill(signal.SIGTERM)
        answers = []
        for s, rest in socks:
            try:
                r, _ = read_response(s, rest)
                answers.append((r.status, r.header("connection")))
            except (EOFError, OSError) as e:
                answers.append(repr(e))
        c.eq("shutdown: every in-flight write answered 200 with Connection: close",
             answers, [(200, "close")] * n)
        c.check("shutdown: connections closed after their answer", all(closed_by_peer(s) for s, _ in socks))
        c.check("shutdown: idle keep-alive connection closed", closed_by_peer(idle))
        code = d.proc.wait(20)
        c.eq("shutdown: exit code 0", code, 0)
        log = d.log()
        c.check("shutdown: loop closed with every handle closed", "stopped code=0" in log and "handle left open" not in log
                and "did not close cleanly" not in log, log[-1500:])
        c.check("shutdown: writer drained", "[writer] stopped" in log)
        try:
            d.raw(timeout=2)
            refused = False
        except OSError:
            refused = True
        c.check("shutdown: no longer accepting", refused)
    finally:
        for s, _ in socks:
            s.close()
        d.stop()

    # Durable: a new daemon on the same directory has every answered write.
    d2 = Daemon(data=data).start()
    try:
        r = d2.get("/v1/audit")
        ids = {json.loads(line)["provider_msg_id"] for line in r.body.decode().splitlines()}
        c.check("shutdown: all answered writes are on disk", all(f"shut-{i}" in ids for i in range(n)), sorted(ids)[:5])
        r = d2.get(f"/v1/check?from={q(OURS)}&to={q('+14155580007')}")
        c.eq("shutdown: state survives the restart", r.json()["reason"], "opted_out")
    finally:
        c.eq("restarted daemon: clean exit", d2.stop(), 0)
        d2.cleanup()
    d.cleanup()

    # SIGINT behaves like SIGTERM.
    d = Daemon().start()
    c.eq("SIGINT: clean exit 0", d.stop(signal.SIGINT), 0)
    d.cleanup()


run("test_lifecycle", test)
