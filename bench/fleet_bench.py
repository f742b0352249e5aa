#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Fleet benchmark (issue 15, docs/fleet.md): replicated durable inbound
throughput beside the single-node figure of the same run, and the lag from
an acknowledged STOP at one node to the check denying at another.

    python3 bench/fleet_bench.py [--duration S] [--samples N] [--bin PATH]

1. single node: `wrk -t2 -c64` with bench/wrk_inbound.lua against one
   `stopgate serve` (the durable group-commit path);
2. fleet: three nats-server (JetStream R3, loopback) and three
   `stopgate serve --replicate` nodes; the same 64 connections split over
   the three nodes (three wrk processes), acknowledged events/s summed;
   rounds alternate single / fleet so the shared machine's noise falls on
   both alike;
3. lag: a STOP posted at node a (answered once a applied it), then
   GET /v1/check at node b in a loop until it denies: the time from a's
   answer to b's deny, p50 / p99 over --samples STOPs. Includes one HTTP
   round trip per poll on loopback, so it is an upper bound.

Each round also prints the CPU time (user + system, /proc) that the
processes under test used per acknowledged event: the single daemon; the
three nodes and three nats-server. On a machine whose cores are busy that
bounds the ratio more than the fsyncs do.

Prints; asserts nothing about speed. Needs wrk and nats-server.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))


def parse_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    ap.add_argument("--rounds", type=int, default=2, help="single/fleet rounds")
    ap.add_argument("--samples", type=int, default=300, help="STOPs timed for the lag")
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "engine", "stopgate"))
    return ap.parse_args()


def pairs_file(tmp, n=20000):
    path = os.path.join(tmp, "pairs.txt")
    with open(path, "w") as f:
        for i in range(n):
            f.write(f"+1415555{i % 100:04d} +1628{i:07d}\n")
    return path


def wrk(urls, conns, duration, pairs, run):
    """Split conns over urls (one wrk each), run at once; summed rps, max p99."""
    per = [conns // len(urls) + (1 if i < conns % len(urls) else 0) for i in range(len(urls))]
    procs = []
    for i, (u, c) in enumerate(zip(urls, per)):
        t = 2 if len(urls) == 1 else 1
        procs.append(subprocess.Popen(
            ["wrk", f"-t{t}", f"-c{c}", "--timeout", "10s", f"-d{duration}s", "-s",
             os.path.join(ROOT, "bench", "wrk_inbound.lua"), u, "--", pairs, f"{run}-{i}"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    rps, p99, errors = 0.0, 0, 0
    for p in procs:
        out, _ = p.communicate()
        m = re.search(r"WRK_RESULT .*rps=([\d.]+) .*lat_p99_us=(\d+) .*err_status=(\d+) err_timeout=(\d+)", out)
        if not m:
            raise RuntimeError("wrk printed no result:\n" + out)
        rps += float(m.group(1))
        p99 = max(p99, int(m.group(2)))
        errors += int(m.group(3)) + int(m.group(4))
    return rps, p99, errors


def cpu_s(pids):
    """utime + stime of these processes (their threads included), seconds."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / tick


def measured(urls, duration, pairs, run, pids):
    """wrk over urls; also the CPU the servers under test used per event."""
    c0 = [cpu_s([p]) for p in pids]
    r = wrk(urls, 64, duration, pairs, run)
    used = [cpu_s([p]) - c for p, c in zip(pids, c0)]
    ev = max(1.0, r[0] * duration)
    if os.environ.get("SG_BENCH_CPU_DETAIL"):
        print("  CPU us/event per process:", " ".join(f"{u * 1e6 / ev:.0f}" for u in used))
    return r + (sum(used) * 1e6 / ev,)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    args = parse_args()
    os.environ["STOPGATE_BIN"] = args.bin
    import sgtest  # noqa: E402 - needs STOPGATE_BIN first
    from natscluster import NATS, Cluster  # noqa: E402
    sgtest.BIN = args.bin
    if not NATS or not shutil.which("wrk"):
        print("fleet bench: needs nats-server and wrk (apt-get install nats-server wrk)")
        return 2
    tmp = tempfile.mkdtemp(prefix="sg-fleetbench-")
    pairs = pairs_file(tmp)
    cluster = Cluster()
    cluster.start()
    urls_opt = ["--replicate", cluster.urls]
    nodes = [sgtest.Daemon(args=urls_opt + ["--node", n]).start() for n in ("a", "b", "c")]
    single = sgtest.Daemon().start()
    fleet_pids = [d.proc.pid for d in nodes] + [x.proc.pid for x in cluster.servers]
    rows = []
    try:
        for r in range(args.rounds):
            s = measured([f"http://127.0.0.1:{single.port}"], args.duration, pairs, f"s{r}{time.time():.0f}",
                         [single.proc.pid])
            f = measured([f"http://127.0.0.1:{d.port}" for d in nodes], args.duration, pairs,
                         f"f{r}{time.time():.0f}", fleet_pids)
            rows.append((s, f))
            print(f"round {r + 1}: single {s[0]:9.0f} events/s p99 {s[1] / 1000:6.1f} ms errors {s[2]} | "
                  f"fleet {f[0]:9.0f} events/s p99 {f[1] / 1000:6.1f} ms errors {f[2]} | "
                  f"ratio {f[0] / s[0]:.2f} | CPU us/event single {s[3]:.0f} fleet {f[3]:.0f}", flush=True)
        srps = sorted(x[0][0] for x in rows)[len(rows) // 2] if rows else 0
        frps = sorted(x[1][0] for x in rows)[len(rows) // 2] if rows else 0
        # the lag: acknowledged at a -> denied at b
        a, b = nodes[0], nodes[1]
        lags, polls = [], []
        conn_b = b.conn()
        for i in range(args.samples):
            rcpt = f"+1650{i:07d}"
            r = a.post("/v1/inbound", {"id": f"lag-{time.time_ns()}-{i}", "provider": "bench", "from": rcpt,
                                       "to": "+14155550100", "body": "STOP"})
            t0 = time.perf_counter()
            assert r.status == 200, r
            n = 0
            while True:
                n += 1
                v = b.request("GET", f"/v1/check?from=%2B14155550100&to={sgtest.q(rcpt)}", conn=conn_b).json()
                if not v["allow"]:
                    break
            lags.append((time.perf_counter() - t0) * 1000)
            polls.append(n)
        conn_b.close()
        print()
        print("| figure | value |")
        print("|---|---|")
        if rows:
            print(f"| durable inbound, single node (64 conns, median of {args.rounds}) | {srps:.0f} events/s |")
            print(f"| durable inbound, 3-node fleet R3 (64 conns over 3 nodes) | {frps:.0f} events/s |")
            print(f"| fleet / single | {frps / srps:.2f} (goal >= 0.5) |")
        print(f"| lag: STOP acknowledged at a -> check denies at b, p50 | {pct(lags, 50):.2f} ms |")
        print(f"| lag p99 ({args.samples} STOPs) | {pct(lags, 99):.2f} ms (goal <= 10 ms) |")
        print(f"| checks needed at b (1 = already denied at the first poll) | "
              f"{sum(1 for p in polls if p == 1)} of {len(polls)} |")
    finally:
        for d in nodes + [single]:
            d.cleanup()
        cluster.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
