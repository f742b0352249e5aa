#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""httpThreads: several HTTP loops on one port (SO_REUSEPORT), checks answered
on the loop that received them, every other request handed to the main loop
and answered back in order; limits, metrics, reload and graceful stop over
every loop. Three loops whatever the machine's CPU count."""
import json
import os
import signal
import subprocess
import time

from sgtest import BIN, Cases, Daemon, q, read_response

OURS = "+14155550100"


def handset(i):
    return f"+1415555{2000 + i:04d}"


def req(method, path, body=b"", headers=None):
    h = {"Host": "x"}
    if method in ("POST", "PUT"):
        h["Content-Length"] = str(len(body))
        h["Content-Type"] = "application/json"
    h.update(headers or {})
    return (f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n").encode() + body


def inbound(i, msg_id, text="STOP"):
    return req("POST", "/v1/inbound", json.dumps(
        {"id": msg_id, "provider": "t", "from": handset(i), "to": OURS, "body": text}).encode())


def check(i):
    return req("GET", f"/v1/check?from={q(OURS)}&to={q(handset(i))}")


def metric(d, prefix):
    for line in d.get("/metrics").body.decode().splitlines():
        if line.startswith(prefix):
            return int(float(line.split()[-1]))
    return 0


def main():
    c = Cases("http_loops")
    d = Daemon(config={"httpThreads": 3, "limits": {"maxConnections": 8}}).start()
    try:
        c.check("the daemon says how many loops serve", "http_threads=3" in d.log(), d.log()[-400:])
        time.sleep(0.2)  # the readiness probe's connection is gone
        checks_before = metric(d, 'stopgate_requests_total{endpoint="check",status="200"}')

        # Six connections (the kernel spreads them over the loops), each a
        # pipeline: check, inbound STOP (handed to the main loop, answered
        # after its commit), check again. Answers come in request order.
        socks = [d.raw() for _ in range(6)]
        for i, s in enumerate(socks):
            s.sendall(check(i) + inbound(i, f"loops-{i}") + check(i))
        order_ok = stop_ok = True
        for i, s in enumerate(socks):
            rest = b""
            got = []
            for _ in range(3):
                r, rest = read_response(s, rest)
                got.append(r)
            order_ok &= [("allow" in r.json(), "intent" in r.json()) for r in got] == [(True, False), (False, True), (True, False)]
            stop_ok &= got[0].json()["allow"] is True and got[1].json()["action"] == "opt_out"
        c.check("pipelined check, inbound, check: answered in order on every loop", order_ok)
        c.check("the first check allows, the inbound STOP is recorded", stop_ok)
        # After the acknowledged STOP, a check on another connection (any
        # loop) sees it.
        seen = all(d.get(f"/v1/check?from={q(OURS)}&to={q(handset(i))}").json()["reason"] == "opted_out"
                   for i in range(6))
        c.check("an acknowledged opt-out is seen by the checks of every loop", seen)

        for s in socks:
            s.close()
        c.eq("/metrics sums every loop's requests", metric(d, 'stopgate_requests_total{endpoint="check",status="200"}')
             - checks_before, 18)

        # Pipelined checks sent in one write are answered together (up to
        # 16 per write) and in order: 40 alternating opted-out / allowed.
        s = d.raw()
        s.sendall(b"".join(check(i % 6) if i % 2 == 0 else check(30 + i) for i in range(40)))
        rest, reasons = b"", []
        for _ in range(40):
            r, rest = read_response(s, rest)
            reasons.append(r.json()["reason"] == "opted_out")
        c.eq("40 pipelined checks in one write: every answer, in order", reasons, [i % 2 == 0 for i in range(40)])
        # A Connection: close in the middle of such a batch ends the answers
        # there: the ones after it are not answered, the connection closes.
        s.sendall(check(0) + check(40) + check(1) +
                  req("GET", f"/v1/check?from={q(OURS)}&to={q(handset(41))}", headers={"Connection": "close"}) +
                  check(2) + check(42))
        got = []
        for _ in range(4):
            r, rest = read_response(s, rest)
            got.append((r.json()["reason"] == "opted_out", r.header("connection")))
        c.eq("a closing request inside a pipelined batch: answered up to it, in order, the last closing",
             got, [(True, None), (False, None), (True, None), (False, "close")])
        s.settimeout(5)
        tail = rest
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                tail += chunk
        except OSError:
            pass
        c.eq("... and nothing after it: the connection ends", tail, b"")
        s.close()

        # The connection limit counts every loop's connections.
        time.sleep(0.2)
        held = [d.raw() for _ in range(8)]
        for s in held:
            s.sendall(req("GET", "/healthz"))
            read_response(s)
        extra = d.raw()
        r, _ = read_response(extra)
        c.eq("connection limit over all loops: the ninth is refused", (r.status, r.json()["error"]),
             (503, "too_many_connections"))
        extra.close()
        for s in held:
            s.close()
        time.sleep(0.2)

        # A second daemon on the same port is refused, as with one loop.
        other = Daemon(config={"httpThreads": 2}, listen=f"127.0.0.1:{d.port}")
        other.start(wait=False)
        try:
            code = other.proc.wait(15)
        except subprocess.TimeoutExpired:
            code = None
        c.eq("a second daemon on the same port exits 2", code, 2)
        c.check("... saying it cannot listen", "cannot listen" in other.log(), other.log()[-300:])
        other.cleanup()

        # Reload (SIGHUP) leaves every loop serving.
        d.kill(signal.SIGHUP)
        deadline = time.time() + 10
        while "reloaded keywords" not in d.log() and time.time() < deadline:
            time.sleep(0.05)
        c.check("reload: every loop still answers checks",
                all(d.get(f"/v1/check?from={q(OURS)}&to={q(handset(i))}").status == 200 for i in range(6)))

        # Graceful stop: a request half sent when TERM arrives is finished,
        # answered with Connection: close, and only then the daemon exits.
        half = [d.raw() for _ in range(3)]
        msgs = [inbound(10 + i, f"late-{i}") for i in range(3)]
        for s, m in zip(half, msgs):
            s.sendall(m[:-5])
        time.sleep(0.2)
        d.kill(signal.SIGTERM)
        time.sleep(0.3)
        answers = []
        for s, m in zip(half, msgs):
            s.sendall(m[-5:])
            r, _ = read_response(s)
            answers.append((r.status, r.header("connection")))
            s.close()
        c.eq("a request in flight at TERM is answered on its loop, then the connection closes", answers,
             [(200, "close")] * 3)
    finally:
        code = d.stop()
        c.eq("clean exit after draining every loop", code, 0)
        c.check("no handle left open", "left open" not in d.log() and "did not close" not in d.log(), d.log()[-500:])
        d.cleanup()

    # The flag and the key are checked.
    r = subprocess.run([BIN, "serve", "--http-threads", "many"], capture_output=True, text=True, timeout=20)
    c.check("--http-threads many: exit 2 with the allowed range", r.returncode == 2 and "--http-threads" in r.stderr,
            r.stderr)
    bad = Daemon(config={"httpThreads": 1000})
    bad.start(wait=False)
    try:
        code = bad.proc.wait(15)
    except subprocess.TimeoutExpired:
        code = None
    c.check("httpThreads 1000 in the config: refused at start, naming the key",
            code == 2 and "httpThreads" in bad.log(), bad.log()[-300:])
    bad.cleanup()

    # The default is one loop per online CPU (at most 16); --http-threads 1
    # serves on the main loop alone.
    want = min(os.sysconf("SC_NPROCESSORS_ONLN"), 16)
    for args, n in (((), want), (("--http-threads", "1"), 1)):
        dd = Daemon(args=args).start()
        try:
            c.check(f"serve {' '.join(args) or '(defaults)'}: {n} HTTP loop(s)", f"http_threads={n} " in dd.log(),
                    dd.log()[-300:])
            c.eq(f"serve {' '.join(args) or '(defaults)'}: checks answered",
                 dd.get(f"/v1/check?from={q(OURS)}&to={q(handset(1))}").status, 200)
        finally:
            c.eq(f"serve {' '.join(args) or '(defaults)'}: clean exit", dd.stop(), 0)
            dd.cleanup()
    c.finish()


if __name__ == "__main__":
    main()
