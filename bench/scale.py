#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The scaling table of issue 14: how every cost grows with the store.

For each size (default 100,000, 1,000,000 and 10,000,000 opt-out pairs) it
runs, on stores of their own in a work directory:

  bench_commit --pairs N --sorted   the import as `stopgate import optouts`
                                    records it: seconds, bytes written
                                    (/proc/self/io), store bytes per pair,
                                    write amplification;
  bench_check  --pairs N            the store built by sg_record in random
                                    order, the check per query mix against
                                    raw mdb_get and an in-memory hash table
                                    of the same pairs (thread CPU time,
                                    interleaved rounds), the start time with
                                    a saved filter and with a rebuild;

and prints one row per size and per measure, with the growth from the
previous size. --huge adds the 100,000,000-pair point (see bench/README.md
for what it costs: hours, and about 35 GB of disk at today's encoding).
Nothing here fails on a figure; the exit status says only whether every
benchmark ran.

usage: bench/scale.py [--build DIR] [--sizes N,N,...] [--huge] [--work DIR]
                      [--json FILE] [--rounds R] [--keep]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MIXES = [
    ("mix_95_5", "95 % no record / 5 % opted out"),
    ("mix_50_50", "50 % no record / 50 % opted out"),
    ("mix_records", "100 % opted out (a record)"),
    ("mix_other", "recipient known, other sender"),
]


def run(cmd, log):
    """Run one benchmark, its output appended to log; True when it exited 0."""
    with open(log, "a") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        t0 = time.monotonic()
        rc = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT)
        f.write("# exit %d after %.1f s\n" % (rc, time.monotonic() - t0))
    if rc:
        print("scale.py: %s exited %d; its output is in %s" % (cmd[0], rc, log), file=sys.stderr)
    return rc == 0


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        print("scale.py: cannot read %s: %s" % (path, e), file=sys.stderr)
        return {}


def one_size(build, work, n, rounds, log):
    """Both benchmarks at n pairs; their JSON figures merged under prefixes."""
    out = {"pairs": n}
    cdir = os.path.join(work, "commit-%d" % n)
    os.makedirs(cdir, exist_ok=True)
    cjson = os.path.join(work, "commit-%d.json" % n)
    ok = run([os.path.join(build, "bench", "bench_commit"), "--pairs", str(n), "--sorted",
              "--dir", cdir, "--json", cjson], log)
    if ok:
        out.update({"commit." + k: v for k, v in load(cjson).items()})
    shutil.rmtree(cdir, ignore_errors=True)

    kdir = os.path.join(work, "check-%d" % n)
    os.makedirs(kdir, exist_ok=True)
    kjson = os.path.join(work, "check-%d.json" % n)
    # Batches of 50,000 from 1 M on, as the 10 M figures in bench/results were built.
    batch = "10000" if n < 1000000 else "50000"
    ok2 = run([os.path.join(build, "bench", "bench_check"), "--pairs", str(n), "--dir", kdir,
               "--record-batch", batch, "--rounds", str(rounds), "--round-size",
               str(min(50000, max(10000, n // 20))), "--json", kjson,
               "--keywords", os.path.join(ROOT, "keywords"),
               "--corpus", os.path.join(ROOT, "tests", "data", "corpus")], log)
    if ok2:
        out.update({"check." + k: v for k, v in load(kjson).items()})
    shutil.rmtree(kdir, ignore_errors=True)
    return out, ok and ok2


def fmt(v, spec):
    return "-" if v is None else spec % v


def table(rows):
    """The table: one column per size, one line per measure."""
    measures = [
        ("import: seconds", "commit.import.seconds", "%.1f"),
        ("import: MB written", "commit.import.bytes_written", "%.0f", 1e-6),
        ("import: write amplification (goal <= 3)", "commit.import.write_amplification", "%.2f"),
        ("store bytes/pair, sorted import (goal <= 100)", "commit.import.bytes_per_pair", "%.0f"),
        ("  of it events", "commit.tree.events.bytes_per_pair", "%.0f"),
        ("  of it recipients", "commit.tree.recipients.bytes_per_pair", "%.0f"),
        ("  of it byrcpt", "commit.tree.byrcpt.bytes_per_pair", "%.0f"),
        ("  of it bodies", "commit.tree.bodies.bytes_per_pair", "%.0f"),
        ("store MiB, random-order build", "check.store.disk_mb", "%.0f"),
        ("random-order build: seconds", "check.store.build_s", "%.1f"),
        ("start, saved filter: ms (goal 10 M <= 1000, 1 M <= 100)", "check.start.saved_ms", "%.0f"),
        ("start, filter rebuilt: ready after ms", "check.start.rebuild_ready_ms", "%.0f"),
    ]
    for key, name in MIXES:
        measures.append(("check ns, " + name, "check.%s.check_cpu_ns" % key, "%.0f"))
        measures.append(("  / raw mdb_get", "check.%s.check_over_lmdb" % key, "%.2f"))
    measures += [
        ("raw mdb_get ns, 100 % records", "check.mix_records.floor_lmdb_cpu_ns", "%.0f"),
        ("hash table ns (the physical floor)", "check.floor_hash.t1.ns_median", "%.0f"),
        ("check ns, pool mix / hash table", None, "%.2f"),
    ]
    head = "%-58s" % "pairs" + "".join("%14s" % "{:,}".format(r["pairs"]) for r in rows)
    lines = [head, "-" * len(head)]
    for m in measures:
        name, key, spec = m[0], m[1], m[2]
        scale = m[3] if len(m) > 3 else 1
        cells = []
        for r in rows:
            if key is None:
                c, h = r.get("check.check.t1.ns_median"), r.get("check.floor_hash.t1.ns_median")
                v = c / h if c and h else None
            else:
                v = r.get(key)
                v = v * scale if isinstance(v, (int, float)) else None
            cells.append("%14s" % fmt(v, spec))
        lines.append("%-58s" % name + "".join(cells))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build-bench"),
                    help="a release build (scripts/bench.sh makes build-bench)")
    ap.add_argument("--sizes", default="100000,1000000,10000000")
    ap.add_argument("--huge", action="store_true", help="add the 100 M-pair point")
    ap.add_argument("--work", help="work directory (default: a new one in /var/tmp)")
    ap.add_argument("--json", help="write every figure as JSON here")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",") if s]
    if a.huge and 100000000 not in sizes:
        sizes.append(100000000)
    for b in ("bench_commit", "bench_check"):
        if not os.access(os.path.join(a.build, "bench", b), os.X_OK):
            sys.exit("scale.py: %s/bench/%s is missing: build it first (scripts/bench.sh --quick "
                     "makes build-bench, or meson setup build-bench --buildtype=release && "
                     "ninja -C build-bench)" % (a.build, b))
    work = a.work or tempfile.mkdtemp(prefix="stopgate-scale-", dir="/var/tmp")
    os.makedirs(work, exist_ok=True)
    log = os.path.join(work, "scale.log")
    print("== scaling table: sizes %s, work directory %s, benchmark output in %s"
          % (", ".join("{:,}".format(s) for s in sizes), work, log), flush=True)
    rows, all_ok = [], True
    for n in sizes:
        t0 = time.monotonic()
        r, ok = one_size(a.build, work, n, a.rounds, log)
        all_ok &= ok
        r["wall_s"] = time.monotonic() - t0
        rows.append(r)
        print("  %s pairs: both benchmarks in %.0f s" % ("{:,}".format(n), r["wall_s"]), flush=True)
    print(table(rows))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    if not a.keep and not a.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
