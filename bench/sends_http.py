#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""POST /v1/sends through the real daemon on loopback: sends/s recorded,
each batch durable before its answer. The request bodies are built before
the clock starts; standard library only.

    bench/sends_http.py STOPGATE_BIN [--batches N] [--size K] [--conns C]
"""
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    binary = args[0]
    batches, size, conns = 40, 10000, 2
    for i, a in enumerate(args):
        if a == "--batches":
            batches = int(args[i + 1])
        elif a == "--size":
            size = int(args[i + 1])
        elif a == "--conns":
            conns = int(args[i + 1])
    tmp = tempfile.mkdtemp(prefix="sg-bench-http-")
    port = free_port()
    kw = os.environ.get("SG_KEYWORDS") or os.path.join(os.path.dirname(__file__), "..", "keywords")
    proc = subprocess.Popen([binary, "serve", "--data", os.path.join(tmp, "data"), "--listen",
                             f"127.0.0.1:{port}", "--keywords", kw, "--log-level", "warn"])
    try:
        for _ in range(200):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.05)
        bodies = []
        for b in range(batches):
            items = [{"id": f"SM{b:04d}{i:06d}", "from": "+14155550100",
                      "to": f"+1212{(b * size + i) % 10000000:07d}"} for i in range(size)]
            bodies.append(json.dumps({"sends": items}).encode())
        per = [bodies[i::conns] for i in range(conns)]
        done = []

        def worker(mine):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            for body in mine:
                c.request("POST", "/v1/sends", body=body, headers={"Content-Type": "application/json"})
                r = c.getresponse()
                data = r.read()
                # the tail holds the counts; parsing 10,000 results in Python would time the client
                if r.status != 200 or f'"recorded":{size},"duplicates":0,"rejected":0}}'.encode() not in data[-100:]:
                    raise SystemExit(f"batch refused: {r.status} {data[-200:]!r}")
                done.append(size)
        t = time.time()
        th = [threading.Thread(target=worker, args=(m,)) for m in per]
        for x in th:
            x.start()
        for x in th:
            x.join()
        dt = time.time() - t
        n = sum(done)
        print(f"POST /v1/sends: {n} sends in {batches} batches of {size} on {conns} connections: "
              f"{n / dt:,.0f} sends/s (durable before each answer)")
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
