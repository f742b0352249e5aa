#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Write keywords/calibration.tsv: for every rule that matched a message of
the held-out corpus (tests/data/corpus/holdout/*.tsv), how many of its
matches carry the intent it gives ("right") of how many it matched
("total"); rule "-" is the messages no rule matched; "model.80" the ones
the intent model gave an intent with a probability from 0.80 to 0.89. The library turns
these counts into sg_classification_score() (engine/keywords/calib.c).

Why the held-out corpus: the development corpora are classified without a
miss by construction (the rules are written against them), so counts taken
there would say every rule is always right. The held-out messages were
written by someone who never saw the rules, and the rules are never tuned
on them; counting how often each rule is right there tunes no rule.

usage: scripts/calibrate.py [--check] [--bin build/engine/stopgate]
  --check  exit 1 (and say what to run) when the file is not what the
           current rules and corpora give; write nothing.
Regenerate after every change of keywords/*.kw or of the corpora.
"""
import argparse
import collections
import glob
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LABELS = {"opt_out", "opt_in", "help", "none"}
HEADER = """\
# The classifier's calibration on the held-out corpus, written by
# scripts/calibrate.py (do not edit; rerun it after changing a rule file or
# a corpus). rule TAB intent TAB right TAB total: of the corpus messages the
# rule matched, how many carry the intent it gives. "-": no rule matched
# (right: those labelled none). sg_classification_score() reads it.
"""


def corpus_lines(corpus_dir):
    """(label, text) of every development corpus file, in a fixed order."""
    rows = []
    for name in sorted(os.listdir(corpus_dir)):
        path = os.path.join(corpus_dir, name)
        if not name.endswith(".tsv") or not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.rstrip("\n")
                if not line or line.startswith("#") or "\t" not in line:
                    continue
                label, text = line.split("\t", 1)
                if label in LABELS:
                    rows.append((label, text.replace("\\n", " ").replace("\\t", " ")))
    return rows


def calibration(bin_path, keywords, rows):
    text = "".join(t.replace("\n", " ") + "\n" for _, t in rows)
    p = subprocess.run([bin_path, "classify", "--keywords", keywords, "--stdin"], input=text,
                       capture_output=True, text=True, check=True)
    got = [line.split("\t") for line in p.stdout.splitlines()]
    if len(got) != len(rows):
        raise SystemExit(f"calibrate: {len(rows)} messages, {len(got)} answers: {p.stderr[:300]}")
    counts = collections.defaultdict(lambda: [None, 0, 0])
    for (label, _), (intent, rule) in zip(rows, got):
        # the intent model's answers ("en.model.87") are counted by tenths
        # of its probability, over all languages: "model.80"
        if ".model." in rule:
            rule = "model.%s0" % rule.rsplit(".", 1)[1][0]
        c = counts[rule]
        c[0] = intent
        c[1] += label == intent
        c[2] += 1
    out = [HEADER]
    for rule in sorted(counts):
        intent, right, total = counts[rule]
        out.append(f"{rule}\t{intent}\t{right}\t{total}\n")
    return "".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--bin", default=os.environ.get("STOPGATE_BIN", os.path.join(ROOT, "build", "engine", "stopgate")))
    ap.add_argument("--keywords", default=os.path.join(ROOT, "keywords"))
    ap.add_argument("--corpus", default=os.path.join(ROOT, "tests", "data", "corpus", "holdout"))
    a = ap.parse_args()
    path = os.path.join(a.keywords, "calibration.tsv")
    if not glob.glob(os.path.join(a.corpus, "*.tsv")):
        # between a held-out corpus retired to dev and the next one: the counts
        # stay those of the last one (dev counts would call every rule right)
        if a.check:
            print(f"no held-out corpus in {a.corpus}: {path} is kept as the last one counted it")
            return 0
        print(f"no held-out corpus in {a.corpus} (*.tsv): nothing to count; {path} left as it is",
              file=sys.stderr)
        return 1
    want = calibration(a.bin, a.keywords, corpus_lines(a.corpus))
    have = open(path, encoding="utf-8").read() if os.path.exists(path) else ""
    if a.check:
        if have != want:
            print(f"{path} is not what the rules and corpora give: run scripts/calibrate.py", file=sys.stderr)
            return 1
        print(f"{path}: current ({want.count(chr(10)) - HEADER.count(chr(10))} rules)")
        return 0
    with open(path, "w", encoding="utf-8") as f:
        f.write(want)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
