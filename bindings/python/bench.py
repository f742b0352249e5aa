#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Per-check benchmark of the Python binding: Engine.check on a store (read
only), over bench_check's query pool (check_paths.txt: 95 % pairs with no
record, 5 % opted out), in rounds; prints one JSON line with the median and
the best round's ns per check.

usage: bench.py --dir STORE --queries check_paths.txt [--checks N] [--rounds R]
"""
import argparse
import json
import os
import statistics
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stopgate  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--checks", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=10)
    a = ap.parse_args()
    pairs = []
    with open(a.queries) as f:
        for line in f:
            q = urllib.parse.parse_qs(urllib.parse.urlsplit(line.strip()).query)
            pairs.append((q["from"][0], q["to"][0]))
    per_round = max(1, a.checks // a.rounds)
    work = (pairs * (per_round // len(pairs) + 1))[:per_round]
    denied = 0
    rounds = []
    with stopgate.Engine(a.dir) as sg:
        check = sg.check
        for f, t in work[:10000]:  # warm up: pages and the filter in memory
            check(f, t)
        for _ in range(a.rounds):
            t0 = time.perf_counter_ns()
            for f, t in work:
                if not check(f, t):
                    denied += 1
            rounds.append((time.perf_counter_ns() - t0) / len(work))
    print(json.dumps({"binding": "python", "checks": per_round * a.rounds, "rounds": a.rounds,
                      "ns_median": round(statistics.median(rounds), 1), "ns_best": round(min(rounds), 1),
                      "denied_share": round(denied / (per_round * a.rounds), 4)}))


if __name__ == "__main__":
    main()
