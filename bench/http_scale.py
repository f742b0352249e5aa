#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""HTTP check against the nginx floor, by HTTP loops (issue 14's HTTP goal).

Starts, side by side on loopback, each on its own copy of the store:
  stopgate serve --http-threads 1, stopgate serve --http-threads N (N = the
  online CPUs unless --threads), optionally a second stopgate binary (e.g. a
  build of main, --baseline) with its defaults, and nginx `return 200` with
  1 and with N workers. Then it measures them in interleaved rounds, the
  order rotating each round, so that every target sees the same machine
  load: `wrk -t2 -c50` GET /v1/check over the same paths (wrk_check.lua);
  and once per round the N-loop daemon again while a second wrk drives
  durable POST /v1/inbound on it (wrk_inbound.lua, 64 connections). It
  prints one line per run and a summary of median requests per second with
  the goal ratios, and writes the same as JSON (--json).

usage: http_scale.py --stopgate BIN --store DIR --paths FILE --inbound-pairs FILE
                     [--keywords DIR] [--threads N] [--rounds R] [--seconds S]
                     [--baseline BIN] [--json OUT] [--pipeline N]
--pipeline N: every wrk connection sends N requests at a time (the same for
nginx); the default 1 is what the goals are measured with.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(port, seconds=60):
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def wrk(args, seconds, script, url, extra):
    cmd = ["wrk", *args, "--timeout", "5s", f"-d{seconds}s", "-s", script, url, "--", *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def proc_cpu(pids):
    """utime + stime of these processes and their children (nginx workers), in seconds."""
    want, total = set(pids), 0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            st = open(f"/proc/{d}/stat").read()
        except OSError:
            continue
        f = st[st.rindex(")") + 2:].split()
        if int(d) in want or int(f[1]) in want:
            total += int(f[11]) + int(f[12])
    return total / os.sysconf("SC_CLK_TCK")


def result(p):
    out, _ = p.communicate()
    m = re.search(r"WRK_RESULT (.*)", out)
    if not m:
        return {"error": out[-300:]}
    return {k: float(v) for k, v in (kv.split("=") for kv in m.group(1).split())}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stopgate", required=True)
    ap.add_argument("--baseline", help="another stopgate binary, run with its defaults")
    ap.add_argument("--store", required=True)
    ap.add_argument("--keywords")
    ap.add_argument("--paths", required=True)
    ap.add_argument("--inbound-pairs", required=True)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--json")
    ap.add_argument("--pipeline", type=int, default=1)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="sg-http-scale-")
    procs = []
    targets = {}  # name -> url
    pids = {}  # name -> pid

    def stop_all():
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)

    try:
        def daemon(name, binary, extra):
            store = os.path.join(work, name, "store")
            shutil.copytree(a.store, store)
            port = free_port()
            cmd = [binary, "serve", "--data", store, "--listen", f"127.0.0.1:{port}", "--log-level", "warn"]
            if a.keywords:
                cmd += ["--keywords", a.keywords]
            p = subprocess.Popen(cmd + extra, stdout=open(os.path.join(work, name + ".log"), "w"),
                                 stderr=subprocess.STDOUT, start_new_session=True)
            procs.append(p)
            pids[name] = p.pid
            if not wait_http(port):
                sys.exit(f"http_scale: {name} did not come up: " + open(os.path.join(work, name + ".log")).read()[-500:])
            targets[name] = f"http://127.0.0.1:{port}"

        def nginx(name, workers):
            d = os.path.join(work, name)
            os.makedirs(os.path.join(d, "tmp"))
            port = free_port()
            conf = os.path.join(d, "nginx.conf")
            with open(conf, "w") as f:
                f.write(f"""worker_processes {workers};
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {d}/tmp/body; proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi; uwsgi_temp_path {d}/tmp/uwsgi; scgi_temp_path {d}/tmp/scgi;
    server {{ listen 127.0.0.1:{port}; location / {{ return 200 "ok\\n"; }} location = /healthz {{ return 200; }} }}
}}
""")
            p = subprocess.Popen(["nginx", "-p", d, "-c", conf, "-g", "daemon off;"], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.STDOUT, start_new_session=True)
            procs.append(p)
            pids[name] = p.pid
            if not wait_http(port, 20):
                sys.exit(f"http_scale: nginx ({workers} workers) did not come up")
            targets[name] = f"http://127.0.0.1:{port}"

        n = a.threads
        daemon("stopgate_1", a.stopgate, ["--http-threads", "1"])
        daemon(f"stopgate_{n}", a.stopgate, ["--http-threads", str(n)])
        if a.baseline:
            daemon("baseline", a.baseline, [])
        nginx("nginx_1", 1)
        nginx(f"nginx_{n}", n)
        check_lua = os.path.join(HERE, "wrk_check.lua")
        inbound_lua = os.path.join(HERE, "wrk_inbound.lua")
        names = list(targets)
        mixed = f"stopgate_{n}+inbound"
        runs = {k: [] for k in names + [mixed, "inbound_during"]}
        cpu = {k: [] for k in names}  # server CPU microseconds per request
        for name in names:  # warm-up
            result(wrk(["-t2", "-c50"], 1, check_lua, targets[name], [a.paths, str(a.pipeline)]))
        for r in range(a.rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for name in order + [mixed]:
                if name == mixed:
                    url = targets[f"stopgate_{n}"]
                    ib = wrk(["-t1", "-c64"], a.seconds, inbound_lua, url, [a.inbound_pairs, f"scale{r}{time.time():.0f}"])
                    time.sleep(0.3)  # the inbound load is running
                    chk = wrk(["-t2", "-c50"], max(1, a.seconds - 1), check_lua, url, [a.paths, str(a.pipeline)])
                    res, ires = result(chk), result(ib)
                    runs["inbound_during"].append(ires.get("rps", 0))
                    extra = f" (inbound meanwhile {ires.get('rps', 0):.0f}/s)"
                else:
                    c0 = proc_cpu([pids[name]])
                    res = result(wrk(["-t2", "-c50"], a.seconds, check_lua, targets[name], [a.paths, str(a.pipeline)]))
                    used = proc_cpu([pids[name]]) - c0
                    extra = ""
                    if res.get("requests"):
                        cpu[name].append(used * 1e6 / res["requests"])
                        extra = f", server CPU {cpu[name][-1]:.1f} us/req"
                if "error" in res:
                    print(f"  round {r + 1} {name}: wrk failed: {res['error']}")
                    continue
                runs[name].append(res["rps"])
                errs = int(res["err_status"] + res["err_read"] + res["err_connect"] + res["err_timeout"])
                print(f"  round {r + 1} {name}: {res['rps']:.0f} req/s p99 {res['lat_p99_us']:.0f} us"
                      f"{' errors ' + str(errs) if errs else ''}{extra}", flush=True)
        med = {k: statistics.median(v) if v else 0 for k, v in runs.items()}
        cpu_med = {k: statistics.median(v) if v else 0 for k, v in cpu.items()}

        def ratio(x, y):
            return med[x] / med[y] if med.get(y) else 0

        summary = {
            "threads": n, "pipeline": a.pipeline, "rounds": a.rounds, "seconds": a.seconds, "median_rps": med, "runs": runs,
            "median_cpu_us_per_request": cpu_med, "cpu_runs": cpu,
            "cpu_ratio_nginx_1_vs_stopgate_1": cpu_med["nginx_1"] / cpu_med["stopgate_1"] if cpu_med["stopgate_1"] else 0,
            "load_before": open("/proc/loadavg").read().split()[:3],
            "ratio_1_loop_vs_nginx_1": ratio("stopgate_1", "nginx_1"),
            f"ratio_{n}_loops_vs_nginx_{n}": ratio(f"stopgate_{n}", f"nginx_{n}"),
            "ratio_checks_with_inbound": ratio(mixed, f"stopgate_{n}"),
        }
        if a.baseline:
            summary["ratio_baseline_vs_nginx_1"] = ratio("baseline", "nginx_1")
        print("  median req/s: " + ", ".join(f"{k} {v:.0f}" for k, v in med.items()))
        print("  median server CPU per request (us): " + ", ".join(f"{k} {v:.1f}" for k, v in cpu_med.items()))
        print("  CPU per request, nginx 1 worker / stopgate 1 loop (the throughput ratio on an idle core): "
              f"{summary['cpu_ratio_nginx_1_vs_stopgate_1']:.2f}")
        print(f"  goal 1 loop >= 1.2 x nginx 1 worker: {summary['ratio_1_loop_vs_nginx_1']:.2f}"
              f" ({'met' if summary['ratio_1_loop_vs_nginx_1'] >= 1.2 else 'not met'})")
        rn = summary[f"ratio_{n}_loops_vs_nginx_{n}"]
        print(f"  goal {n} loops >= 0.9 x nginx {n} workers: {rn:.2f} ({'met' if rn >= 0.9 else 'not met'})")
        rm = summary["ratio_checks_with_inbound"]
        print(f"  goal checks while inbound runs >= 0.9 x alone: {rm:.2f} ({'met' if rm >= 0.9 else 'not met'})")
        if a.baseline:
            print(f"  baseline (its defaults) vs nginx 1 worker: {summary['ratio_baseline_vs_nginx_1']:.2f}")
        if a.json:
            with open(a.json, "w") as f:
                json.dump(summary, f, indent=1)
    finally:
        stop_all()


if __name__ == "__main__":
    main()
