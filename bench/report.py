#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Assemble the benchmark figures into one table and one JSON file.

Inputs (each optional except --check): bench_check's JSON, bench_classify's
text output, the WRK_RESULT lines of the wrk runs and the daemon's /metrics
text. Prints the table with every target of the benchmark issue and
whether this run met it; writes the same figures as JSON. Never fails on a
figure: a missing input is reported as "not run".
"""
import argparse
import json
import os
import platform
import re
import sys
import time


def read(path):
    if not path or not os.path.exists(path):
        return None
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def wrk_result(path):
    """The WRK_RESULT lines of a file, combined: requests and durations
    summed, p50 and mean weighted by requests, p99 and max the worst."""
    text = read(path)
    if not text:
        return None
    runs = []
    for m in re.finditer(r"^WRK_RESULT (.*)$", text, re.M):
        run = {}
        for kv in m.group(1).split():
            k, v = kv.split("=", 1)
            run[k] = float(v)
        runs.append(run)
    if not runs:
        return None
    out = {"runs": len(runs)}
    for k in ("requests", "duration_us", "err_connect", "err_read", "err_write", "err_status", "err_timeout"):
        out[k] = sum(r[k] for r in runs)
    total = out["requests"] or 1
    for k in ("lat_mean_us", "lat_p50_us"):
        out[k] = sum(r[k] * r["requests"] for r in runs) / total
    for k in ("lat_p99_us", "lat_max_us"):
        out[k] = max(r[k] for r in runs)
    secs = out["duration_us"] / 1e6
    out["rps"] = out["requests"] / secs if secs else 0
    out["ok_per_s"] = max(out["requests"] - out["err_status"], 0) / secs if secs else 0
    out["errors"] = (out["err_connect"] + out["err_read"] + out["err_write"] + out["err_status"]
                     + out["err_timeout"])
    out["per_run_rps"] = [r["requests"] / (r["duration_us"] / 1e6) for r in runs]
    return out


def classify_rate(path):
    text = read(path)
    if not text:
        return None
    m = re.search(r"^classify: ([0-9.]+) (?:msgs|messages)", text, re.M)
    return float(m.group(1)) if m else None


def classify_detail(path):
    """bench_classify's second line: the whole classifier (rules and intent
    model) against the rules alone, in interleaved rounds, on the mix and on
    a set where every message is a hit."""
    text = read(path)
    m = text and re.search(r"^intent model: .*?interleaved: ([0-9.]+) msgs/s \(whole/rules ([0-9.]+)\); "
                           r"every message a hit: ([0-9.]+)/s whole, ([0-9.]+)/s rules alone \(([0-9.]+)\)",
                           text, re.M)
    if not m:
        return {}
    v = [float(x) for x in m.groups()]
    return {"rules_mix": v[0], "ratio_mix": v[1], "hits": v[2], "rules_hits": v[3], "ratio_hits": v[4]}


def metric_sum(text, name):
    if not text:
        return None
    m = re.search(r"^%s ([0-9.eE+-]+)$" % re.escape(name), text, re.M)
    return float(m.group(1)) if m else None


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def fmt_ns(v):
    return "—" if v is None else ("%.0f ns" % v if v >= 100 else "%.1f ns" % v)


def fmt_rate(v, unit="/s"):
    if v is None:
        return "—"
    if v >= 1e6:
        return "%.2f M%s" % (v / 1e6, unit)
    if v >= 1e3:
        return "%.1f k%s" % (v / 1e3, unit)
    return "%.0f %s" % (v, unit)


def issue14_targets(g, cm, hl, wc, wi, wi256, ratio):
    """Issue 14's goals, each a ratio measured in this run (a missing input: not run)."""
    lt = lambda w: (lambda v: v <= w)
    ge = lambda w: (lambda v: v >= w)
    t = []
    pairs = cm.get("import.pairs")
    t.append(("store bytes per pair (%s pairs, sorted import)" % (f"{int(pairs):,}" if pairs else "?"),
              cm.get("import.bytes_per_pair"), "<= 100", lt(100), "%.0f B"))
    t.append(("import write amplification", cm.get("import.write_amplification"), "<= 3", lt(3), "%.2f x"))
    # the stretch: every mix against the in-memory hash table of the same pairs
    hash_floor = min([v for v in (g("floor_hash.t1.ns_median"), g("floor_hash_thp.t1.ns_median")) if v] or [None])
    worst = max([v for v in (g(k + ".check_cpu_ns") for k in ("mix_95_5", "mix_50_50", "mix_records", "mix_other"))
                 if v] or [None]) if hash_floor else None
    t.append(("stretch: slowest mix / in-memory hash", ratio(worst, hash_floor), "<= 3", lt(3), "%.2f x"))
    t.append(("syncs per loaded group commit", cm.get("commit.group_syncs"), "<= 1", lt(1), "%.2f"))
    t.append(("one connection: commit / fdatasync", cm.get("commit.one_ratio_fdatasync"), "<= 2", lt(2), "%.3f x"))
    check_rps = wc and wc["ok_per_s"]
    t.append(("durable inbound 64 conns / HTTP check", ratio(wi and wi["ok_per_s"], check_rps), ">= 0.5", ge(0.5),
              "%.3f x"))
    t.append(("durable inbound 256 conns / HTTP check", ratio(wi256 and wi256["ok_per_s"], check_rps), ">= 0.5",
              ge(0.5), "%.3f x"))
    fs = cm.get("commit.fdatasync_us")
    p99_goal = 5 * fs + 1000 if fs else None
    t.append(("inbound p99, 64 conns / (5 x fdatasync + 1 ms)", ratio(wi and wi["lat_p99_us"], p99_goal),
              "<= 1", lt(1), "%.3f x"))
    t.append(("HTTP check, 1 loop / nginx 1 worker", hl.get("ratio_1_loop_vs_nginx_1"), ">= 1.2", ge(1.2), "%.3f x"))
    n = hl.get("threads")
    t.append(("HTTP check, %s loops / nginx %s workers" % (n or "N", n or "N"), hl.get("ratio_2_loops_vs_nginx_2")
              if hl.get("ratio_2_loops_vs_nginx_2") is not None else hl.get("ratio_n_loops_vs_nginx_n"),
              ">= 0.9", ge(0.9), "%.3f x"))
    t.append(("HTTP checks while inbound runs / alone", hl.get("ratio_checks_with_inbound"), ">= 0.9", ge(0.9),
              "%.3f x"))
    return t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", required=True)
    ap.add_argument("--classify")
    ap.add_argument("--wrk-check")
    ap.add_argument("--wrk-nginx")
    ap.add_argument("--wrk-nginx2")
    ap.add_argument("--wrk-inbound")
    ap.add_argument("--wrk-inbound256", help="WRK_RESULT lines of durable inbound at 256 connections")
    ap.add_argument("--commit", help="bench_commit's JSON (step 6)")
    ap.add_argument("--http-loops", help="bench/http_scale.py's JSON (step 7)")
    ap.add_argument("--metrics-before")
    ap.add_argument("--metrics-after")
    ap.add_argument("--bindings", help="JSON lines of the bindings' per-check figures")
    ap.add_argument("--json-out", required=True)
    ap.add_argument("--label", default="")
    ap.add_argument("--tree", default="")
    ap.add_argument("--elapsed", type=float)
    ap.add_argument("--daemon-start-ms", type=float)
    a = ap.parse_args()

    c = json.loads(read(a.check) or "{}")
    g = c.get
    wc, wn, wn2, wi = (wrk_result(p) for p in (a.wrk_check, a.wrk_nginx, a.wrk_nginx2, a.wrk_inbound))
    wi256 = wrk_result(a.wrk_inbound256)
    cm = json.loads(read(a.commit) or "{}")
    hl = json.loads(read(a.http_loops) or "{}")
    cls_ext = classify_rate(a.classify)
    cdet = classify_detail(a.classify)
    cls_own = g("classify.per_s")
    cls = cls_ext if cls_ext is not None else cls_own
    mb, ma = read(a.metrics_before), read(a.metrics_after)
    batch_mean = None
    commit_ms = None
    if ma:
        s1, n1 = metric_sum(ma, "stopgate_commit_batch_size_sum"), metric_sum(ma, "stopgate_commit_batch_size_count")
        s0 = metric_sum(mb, "stopgate_commit_batch_size_sum") or 0
        n0 = metric_sum(mb, "stopgate_commit_batch_size_count") or 0
        if s1 is not None and n1 and n1 > n0:
            batch_mean = (s1 - s0) / (n1 - n0)
        l1, c1 = metric_sum(ma, "stopgate_commit_latency_seconds_sum"), metric_sum(ma, "stopgate_commit_latency_seconds_count")
        l0 = metric_sum(mb, "stopgate_commit_latency_seconds_sum") or 0
        c0 = metric_sum(mb, "stopgate_commit_latency_seconds_count") or 0
        if l1 is not None and c1 and c1 > c0:
            commit_ms = (l1 - l0) / (c1 - c0) * 1e3

    def ratio(x, y):
        return x / y if x is not None and y else None

    check = g("check.t1.ns_median")
    r_mdb = ratio(check, g("floor_lmdb.t1.ns_median"))
    r_sql = ratio(g("sqlite.t1.ns_median"), check)
    # the floor is the faster of the two hash tables (4 KiB or huge pages)
    hash_floor = min([v for v in (g("floor_hash.t1.ns_median"), g("floor_hash_thp.t1.ns_median")) if v] or [None])
    r_hash = ratio(check, hash_floor)
    # against the same recipients checked one by one, timed in turn with the batch
    r_batch = ratio(g("batch.ns_per_recipient_median"), g("batch.single_same_ns_median") or check)
    r_http = ratio(wc and wc["ok_per_s"], wn and wn["ok_per_s"])
    inbound = wi and wi["ok_per_s"]
    pairs = int(g("store.pairs") or 0)

    targets = [
        ("check / raw mdb_get", r_mdb, "<= 1.3", lambda v: v <= 1.3, "%.3f x"),
        ("SQLite / check", r_sql, ">= 20", lambda v: v >= 20, "%.2f x"),
        ("check / in-memory hash (%s pairs)" % f"{pairs:,}", r_hash, "<= 3", lambda v: v <= 3, "%.3f x"),
        ("batch per recipient / single check", r_batch, "<= 0.5", lambda v: v <= 0.5, "%.3f x"),
        ("classification, one core", cls, ">= 1,000,000 msg/s", lambda v: v >= 1e6, None),
        ("classification, every message a hit", cdet.get("hits"), ">= 500,000 msg/s", lambda v: v >= 5e5, None),
        ("HTTP check / nginx return 200", r_http, ">= 0.8", lambda v: v >= 0.8, "%.3f x"),
        ("durable inbound, 64 connections", inbound, ">= 10,000 events/s", lambda v: v >= 1e4, None),
    ]
    # the bindings: ns per check in their own language, same store and queries
    bindings = {}
    for line in (read(a.bindings) or "").splitlines() if a.bindings else []:
        try:
            b = json.loads(line)
            bindings[b["binding"]] = b
        except (ValueError, KeyError):
            pass
    for name, label, goal in (("python", "Python", 2000), ("go", "Go", 1000), ("node", "Node", 2000)):
        b = bindings.get(name)
        targets.append(("%s binding, ns per check" % label, b and b.get("ns_median"), "<= %d ns" % goal,
                        lambda v, goal=goal: v <= goal, "%.0f ns"))
    # issue 14: the check per query mix against mdb_get in the same store
    # (thread CPU time, alternating rounds), and the start time
    for key, name in (("mix_records", "check with a record / mdb_get, same store"),
                      ("mix_95_5", "mix 95/5 / mdb_get, same store"),
                      ("mix_50_50", "mix 50/50 / mdb_get, same store"),
                      ("mix_other", "mix known recipient, other sender / mdb_get")):
        want = g(key + ".wanted")
        if want is not None:
            targets.append((name, g(key + ".check_over_lmdb"), "<= %.1f" % want,
                            (lambda w: lambda v: v <= w)(want), "%.3f x"))
    start_goal = g("start.goal_ms")
    if start_goal:
        saved = g("start.saved_ms") if g("start.saved_reused") else None
        targets.append(("start, saved filter / %.0f ms goal" % start_goal,
                        ratio(saved, start_goal), "<= 1 (%.0f ms)" % start_goal, lambda v: v <= 1, "%.3f x"))
    if a.daemon_start_ms is not None and start_goal:
        targets.append(("daemon start to /healthz / %.0f ms goal" % start_goal,
                        a.daemon_start_ms / start_goal, "<= 1 (%.0f ms)" % start_goal, lambda v: v <= 1, "%.3f x"))

    targets += issue14_targets(g, cm, hl, wc, wi, wi256, ratio)

    rows = []

    def row(name, value, note=""):
        rows.append((name, value, note))

    row("store: pairs / recipients / senders",
        "%s / %s / %s" % (f"{pairs:,}", f"{int(g('store.recipients') or 0):,}", int(g("store.senders") or 0)),
        "%s in %.1f s (%s pairs/s, sg_record batches of %s)" % (
            "built earlier" if g("store.reused") else "built", g("store.build_s") or 0,
            fmt_rate(g("store.build_pairs_per_s"), ""), f"{int(g('store.record_batch') or 0):,}"))
    row("check, 1 thread", "%s median, %s p99" % (fmt_ns(check), fmt_ns(g("check.t1.ns_p99"))),
        "%s; single calls p50 %s p99 %s" % (fmt_rate(g("check.t1.per_s")), fmt_ns(g("check.t1.call_ns_p50")),
                                            fmt_ns(g("check.t1.call_ns_p99"))))
    row("check, 2 threads", "%s median, %s p99" % (fmt_ns(g("check.t2.ns_median")), fmt_ns(g("check.t2.ns_p99"))),
        "%s both threads" % fmt_rate(g("check.t2.per_s")))
    for name, label in (("python", "Python (ctypes)"), ("go", "Go (cgo)"), ("node", "Node (N-API)")):
        b = bindings.get(name)
        if b:
            row("check through %s" % label, "%s median, %s best" % (fmt_ns(b.get("ns_median")), fmt_ns(b.get("ns_best"))),
                "%.1f x the C check (%s checks, %s rounds)" % (ratio(b.get("ns_median"), check) or 0, f"{b.get('checks', 0):,}",
                                                                b.get("rounds")))
    row("check, read-only 2nd process",
        "%s median, %s p99" % (fmt_ns(g("check.ro_process.ns_median")), fmt_ns(g("check.ro_process.ns_p99"))),
        fmt_rate(g("check.ro_process.per_s")))
    row("floor: raw LMDB mdb_get", "%s median, %s p99" % (fmt_ns(g("floor_lmdb.t1.ns_median")),
                                                         fmt_ns(g("floor_lmdb.t1.ns_p99"))),
        "%s; 2 threads %s" % (fmt_rate(g("floor_lmdb.t1.per_s")), fmt_rate(g("floor_lmdb.t2.per_s"))))
    row("floor: in-memory hash, 4 KiB pages", "%s median, %s p99" % (fmt_ns(g("floor_hash.t1.ns_median")),
                                                                    fmt_ns(g("floor_hash.t1.ns_p99"))),
        fmt_rate(g("floor_hash.t1.per_s")))
    if g("floor_hash_thp.t1.ns_median"):
        row("floor: in-memory hash, huge pages", "%s median, %s p99" % (
            fmt_ns(g("floor_hash_thp.t1.ns_median")), fmt_ns(g("floor_hash_thp.t1.ns_p99"))),
            "%s; %.0f %% in 2 MiB pages" % (fmt_rate(g("floor_hash_thp.t1.per_s")),
                                            100 * (g("floor_hash_thp.huge_share") or 0)))
    if g("sqlite.available"):
        row("SQLite (WITHOUT ROWID, WAL, mmap)", "%s median, %s p99" % (fmt_ns(g("sqlite.t1.ns_median")),
                                                                       fmt_ns(g("sqlite.t1.ns_p99"))),
            fmt_rate(g("sqlite.t1.per_s")))
    else:
        row("SQLite", "skipped", "libsqlite3-dev not installed at build time")
    row("batch check (1 sender, 10,000/call)", "%s / recipient" % fmt_ns(g("batch.ns_per_recipient_median")),
        "%s; the same recipients one sg_check each: %s" % (
            fmt_rate(g("batch.recipients_per_s"), " recipients/s"), fmt_ns(g("batch.single_same_ns_median"))))
    row("classification (bench_classify)", fmt_rate(cls_ext, " msg/s"), "keyword engine alone, one core")
    row("classification (sg_classify via engine)", fmt_rate(cls_own, " msg/s"), "90 % ordinary / 10 % keywords")
    if cdet:
        row("classification, the rules alone", fmt_rate(cdet["rules_mix"], " msg/s"),
            "intent model off, interleaved rounds: whole / rules %.2f x" % cdet["ratio_mix"])
        row("classification, every message a hit", fmt_rate(cdet["hits"], " msg/s"),
            "rules alone %s: whole / rules %.2f x" % (fmt_rate(cdet["rules_hits"], "/s"), cdet["ratio_hits"]))
    if wc:
        row("HTTP GET /v1/check (wrk -t2 -c50)", fmt_rate(wc["ok_per_s"], " req/s"),
            "p50 %.0f µs p99 %.0f µs, errors %d; runs %s" % (
                wc["lat_p50_us"], wc["lat_p99_us"], wc["errors"], " ".join("%.0f" % x for x in wc["per_run_rps"])))
    else:
        row("HTTP GET /v1/check", "not run", "")
    if wn:
        row("HTTP floor: nginx return 200 (1 worker)", fmt_rate(wn["ok_per_s"], " req/s"),
            "p50 %.0f µs p99 %.0f µs, errors %d; runs %s" % (
                wn["lat_p50_us"], wn["lat_p99_us"], wn["errors"], " ".join("%.0f" % x for x in wn["per_run_rps"])))
    else:
        row("HTTP floor: nginx", "not run", "nginx not installed")
    if wn2:
        row("  (nginx, 2 workers, for reference)", fmt_rate(wn2["ok_per_s"], " req/s"),
            "p99 %.0f µs" % wn2["lat_p99_us"])
    if wi256:
        row("durable inbound POST (wrk -t2 -c256)", fmt_rate(wi256["ok_per_s"], " events/s"),
            "p50 %.1f ms p99 %.1f ms, errors %d" % (wi256["lat_p50_us"] / 1e3, wi256["lat_p99_us"] / 1e3,
                                                    wi256["errors"]))
    if cm.get("commit.fdatasync_us") is not None:
        row("disk: fdatasync latency (bench_commit)", "%.0f µs" % cm["commit.fdatasync_us"],
            "one commit + sync %.0f µs (%.0f syncs); group of %d: %.0f syncs" % (
                cm.get("commit.one_us") or 0, cm.get("commit.one_syncs") or 0, cm.get("commit.group_size") or 0,
                cm.get("commit.group_syncs") or 0))
    if wi:
        row("durable inbound POST (wrk -t2 -c64)", fmt_rate(wi["ok_per_s"], " events/s"),
            "p50 %.1f ms p99 %.1f ms, errors %d, mean commit batch %s, mean commit %s" % (
                wi["lat_p50_us"] / 1e3, wi["lat_p99_us"] / 1e3, wi["errors"],
                "%.1f events" % batch_mean if batch_mean is not None else "—",
                "%.1f ms" % commit_ms if commit_ms is not None else "—"))
    else:
        row("durable inbound", "not run", "")

    for key, label in (("mix_95_5", "check per mix (CPU): 95/5"), ("mix_50_50", "  50/50"),
                       ("mix_records", "  100 % opted out"), ("mix_other", "  known recipient, other sender")):
        if g(key + ".check_cpu_ns") is not None:
            row(label, "%s / %s" % (fmt_ns(g(key + ".check_cpu_ns")), fmt_ns(g(key + ".floor_lmdb_cpu_ns"))),
                "check / mdb_get same store; packed copy %s (check / packed %.3f)" % (
                    fmt_ns(g(key + ".packed_lmdb_cpu_ns")), g(key + ".check_over_packed_lmdb") or 0))
    if g("start.saved_ms") is not None:
        row("open read-write, saved filter", "%.1f ms" % g("start.saved_ms"),
            "taken over: %s; without it: %.1f ms to return, %.0f ms until the rebuilt filter is in use" % (
                "yes" if g("start.saved_reused") else "NO", g("start.rebuild_open_ms") or 0,
                g("start.rebuild_ready_ms") or 0))
    if a.daemon_start_ms is not None:
        row("daemon start to first /healthz", "%.0f ms" % a.daemon_start_ms, "stopgate serve on the prepared store")

    bd = [("no-record pair (95 % path)", "breakdown.check_miss_ns"),
          ("opted-out pair (5 % path)", "breakdown.check_hit_ns"),
          ("known recipient, other sender", "breakdown.check_known_other_ns"),
          ("  normalize sender only", "breakdown.normalize_from_ns"),
          ("  normalize sender + country + recipient", "breakdown.normalize_both_ns"),
          ("  filter hash + probe", "breakdown.filter_probe_ns"),
          ("  LMDB read txn renew + reset", "breakdown.txn_renew_reset_ns"),
          ("  mdb_get miss (txn held)", "breakdown.mdb_get_miss_ns"),
          ("  mdb_get hit (txn held)", "breakdown.mdb_get_hit_ns")]

    w1 = max(len(r[0]) for r in rows) + 2
    w2 = max(len(r[1]) for r in rows) + 2
    out = []
    title = "stopgate benchmark%s — %s, %s CPUs, load %.1f → %.1f" % (
        " (" + a.label + ")" if a.label else "", cpu_model(), int(g("machine.cpus") or os.cpu_count() or 0),
        g("machine.loadavg_start") or -1, g("machine.loadavg_end") or -1)
    out.append(title)
    if a.tree:
        out.append("code: %s" % a.tree)
    out.append("")
    out.append("%-*s%-*s%s" % (w1, "measurement", w2, "figure", "notes"))
    out.append("-" * (w1 + w2 + 40))
    for name, value, note in rows:
        out.append("%-*s%-*s%s" % (w1, name, w2, value, note))
    out.append("")
    out.append("where a check's time goes (single thread, medians):")
    for label, key in bd:
        if g(key) is not None:
            out.append("  %-44s %s" % (label, fmt_ns(g(key))))
    out.append("")
    tw = max(len(t[0]) for t in targets) + 2
    out.append("%-*s%-22s%-22s%s" % (tw, "target", "measured", "wanted", "met"))
    out.append("-" * (tw + 50))
    results = []
    for name, value, want, ok, f in targets:
        if value is None:
            shown, met = "not run", None
        else:
            shown = (f % value) if f else fmt_rate(value, "/s")
            met = bool(ok(value))
        out.append("%-*s%-22s%-22s%s" % (tw, name, shown, want, "—" if met is None else ("met" if met else "NOT met")))
        results.append({"target": name, "measured": value, "wanted": want, "met": met})
    if a.elapsed:
        out.append("")
        out.append("suite ran in %.0f s" % a.elapsed)
    text = "\n".join(out)
    print(text)

    doc = {
        "label": a.label,
        "tree": a.tree,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpu": cpu_model(), "cpus": g("machine.cpus"), "loadavg_start": g("machine.loadavg_start"),
                    "loadavg_end": g("machine.loadavg_end"), "kernel": platform.release()},
        "targets": results,
        "ratios": {"check_over_mdb_get": r_mdb, "sqlite_over_check": r_sql, "check_over_hash": r_hash,
                   "check_over_hash_4k": ratio(check, g("floor_hash.t1.ns_median")),
                   "batch_over_single": r_batch, "http_check_over_nginx": r_http},
        "in_process": c,
        "bindings": bindings,
        "classify": {"bench_classify_msgs_per_s": cls_ext, "sg_classify_msgs_per_s": cls_own, **cdet},
        "http_check": wc, "http_nginx": wn, "http_nginx_2_workers": wn2,
        "inbound": dict(wi or {}, mean_commit_batch=batch_mean, mean_commit_ms=commit_ms) if wi else None,
        "elapsed_s": a.elapsed,
        "daemon_start_ms": a.daemon_start_ms,
        "table": text,
    }
    with open(a.json_out, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
