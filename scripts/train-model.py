#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Train keywords/intent.model, the intent model, from labelled corpora.

usage: scripts/train-model.py [--stopgate BIN] [--keywords DIR] [--out FILE]
                              [--corpus DIR]... [--buckets N] [--epochs N]

Every corpus file is `label TAB text` lines (labels opt_out, opt_in, help,
none; `#` comments; escapes \\n \\t \\\\), named `<lang>[_<part>].tsv`. The
features of each text come from the engine itself (`stopgate classify
--stdin --features`), computed on the text as the rules leave it, so the
model sees at run time exactly what it was trained on. The model is a
softmax regression over hashed features, trained by stochastic gradient
descent with a fixed seed: the same corpora and rules give the same file,
byte for byte. Weights are quantised to -32767..32767 (times `scale`); a
bucket whose weights are all under --prune (0.1) is left out: on the third
held-out corpus that changed no answer and halved the model. Each bucket also names the
language whose texts its features were seen in most.

The thresholds say when the model's answer stands: an intent needs its
probability (default 0.6 for opt_out and help, 0.8 for opt_in: a forged
opt-in costs more than a missed one), and in a text without any trigger
word of the rules at least --untriggered (default 0.7); where a guard
matched, never an opt-out, and an opt-in or help at least --guarded
(default 0.9); a rule's opt-out phrase (never an exact keyword or its
typo) is overruled only when the model gives none at least the veto
probability (default 1: never; measured, a veto cost more opt-outs than
the false ones it saved). Measured in keywords/README.md ("The intent
model").
"""
import argparse, collections, hashlib, math, os, random, shutil, subprocess, sys, tempfile

LABELS = ["none", "opt_out", "opt_in", "help"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def unescape(t):
    out, i = [], 0
    while i < len(t):
        if t[i] == "\\" and i + 1 < len(t) and t[i + 1] in "nt\\":
            out.append({"n": " ", "t": " ", "\\": "\\"}[t[i + 1]])
            i += 2
        else:
            out.append(t[i])
            i += 1
    return "".join(out)


def read_corpora(dirs):
    """[(lang, label, text)] of every *.tsv in dirs (not their subdirectories)."""
    rows = []
    for d in dirs:
        for name in sorted(os.listdir(d)):
            if not name.endswith(".tsv"):
                continue
            lang = name[:-4].split("_")[0]
            for no, line in enumerate(open(os.path.join(d, name), encoding="utf-8"), 1):
                line = line.rstrip("\n")
                if not line or line.startswith("#"):
                    continue
                label, sep, text = line.partition("\t")
                if not sep or label not in LABELS:
                    sys.exit(f"{d}/{name}:{no}: want label TAB text, label one of {', '.join(LABELS)}")
                rows.append((lang, label, unescape(text)))
    return rows


def features(stopgate, keywords, texts):
    """The engine's feature hashes of each text, read with the rules only."""
    with tempfile.TemporaryDirectory() as tmp:
        for name in os.listdir(keywords):  # the rules without any model
            if name.endswith(".kw"):
                shutil.copy(os.path.join(keywords, name), tmp)
        p = subprocess.run([stopgate, "classify", "--keywords", tmp, "--stdin", "--features"],
                           input="".join(t.replace("\n", " ") + "\n" for t in texts),
                           capture_output=True, text=True)
    if p.returncode:
        sys.exit(f"stopgate classify --features failed: {p.stderr.strip()}")
    out = []
    for line in p.stdout.splitlines():
        parts = line.split("\t")
        if parts[0] == "error":
            out.append([])
            continue
        out.append([int(h) for h in parts[2].split()] if len(parts) > 2 and parts[2] else [])
    if len(out) != len(texts):
        sys.exit(f"stopgate printed {len(out)} lines for {len(texts)} texts")
    return out


def train(X, Y, buckets, epochs, seed, rate=0.3, l2=1e-5):
    W = collections.defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])
    bias = [0.0] * 4
    order = list(range(len(X)))
    rnd = random.Random(seed)
    for epoch in range(epochs):
        rnd.shuffle(order)
        a = rate / (1 + epoch * 0.3)
        for i in order:
            fs, y = X[i], Y[i]
            s = bias[:]
            for f in fs:
                w = W[f]
                s[0] += w[0]; s[1] += w[1]; s[2] += w[2]; s[3] += w[3]
            m = max(s)
            e = [math.exp(v - m) for v in s]
            z = sum(e)
            g = [e[k] / z - (1.0 if k == y else 0.0) for k in range(4)]
            for f in fs:
                w = W[f]
                for k in range(4):
                    w[k] -= a * (g[k] + l2 * w[k])
            for k in range(4):
                bias[k] -= a * 0.1 * g[k]
    return W, bias


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stopgate", default=os.path.join(ROOT, "build/engine/stopgate"))
    ap.add_argument("--keywords", default=os.path.join(ROOT, "keywords"))
    ap.add_argument("--out", default=None, help="default: KEYWORDS/intent.model")
    ap.add_argument("--corpus", action="append", help="default: tests/data/corpus")
    ap.add_argument("--buckets", type=int, default=1 << 18)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threshold", type=float, nargs=3, default=[0.6, 0.8, 0.6],
                    metavar=("OPT_OUT", "OPT_IN", "HELP"))
    ap.add_argument("--veto", type=float, default=1.0)
    ap.add_argument("--untriggered", type=float, default=0.7,
                    help="what an intent needs in a text without a trigger word (above 1: no answer there)")
    ap.add_argument("--guarded", type=float, default=0.9,
                    help="what an opt-in or help needs in a text a guard matched (above 1: no answer there)")
    ap.add_argument("--prune", type=float, default=0.1,
                    help="leave out features whose weights are all smaller (measured: no change in answers)")
    o = ap.parse_args()
    if o.buckets < 64 or o.buckets & (o.buckets - 1):
        sys.exit("--buckets: a power of two, 64 or more")
    corpora = o.corpus or [os.path.join(ROOT, "tests/data/corpus")]
    rows = read_corpora(corpora)
    if not rows:
        sys.exit("no corpus rows")
    # languages with a rule file (must.tsv, holdout.tsv are mixed: none)
    langs = sorted({l for l, _, _ in rows if os.path.exists(os.path.join(o.keywords, l + ".kw"))})
    hashes = features(o.stopgate, o.keywords, [t for _, _, t in rows])
    mask = o.buckets - 1
    X = [sorted({h & mask for h in hs}) for hs in hashes]
    Y = [LABELS.index(lab) for _, lab, _ in rows]
    W, bias = train(X, Y, o.buckets, o.epochs, o.seed)
    seen = collections.defaultdict(collections.Counter)
    for (lang, _, _), fs in zip(rows, X):
        for f in fs:
            seen[f][lang] += 1
    scale = max(abs(v) for w in W.values() for v in w) / 32767
    digest = hashlib.sha256()
    for lang, lab, t in rows:
        digest.update(f"{lang}\t{lab}\t{t}\n".encode())
    out = o.out or os.path.join(o.keywords, "intent.model")
    lines = [
        "# The intent model of stopgate's classifier: written by scripts/train-model.py, do not edit.",
        "# Format and use: keywords/README.md (\"The intent model\").",
        f"# Trained on {len(rows)} messages in {len(langs)} languages, sha256 {digest.hexdigest()[:16]},",
        f"# {o.epochs} epochs, seed {o.seed}.",
        "stopgate-model 1",
        f"buckets {o.buckets}",
        f"scale {scale:.9g}",
        "langs " + " ".join(langs),
        "bias " + " ".join(f"{b:.6f}" for b in bias),
        f"threshold {o.veto:g} {o.threshold[0]:g} {o.threshold[1]:g} {o.threshold[2]:g}",
    ]
    if o.untriggered <= 1:
        lines.append(f"untriggered {o.untriggered:g}")
    if o.guarded <= 1:
        lines.append(f"guarded {o.guarded:g}")
    kept = 0
    for f in sorted(W):
        if max(abs(v) for v in W[f]) < o.prune:
            continue  # a feature that barely moves any intent: not worth a cache line
        q = [int(round(v / scale)) for v in W[f]]
        lang, n = seen[f].most_common(1)[0] if seen[f] else ("-", 0)
        share = n / sum(seen[f].values()) if seen[f] else 0
        lang_col = str(langs.index(lang)) if share >= 0.5 and lang in langs else "-"
        lines.append(f"w {f} {q[0]} {q[1]} {q[2]} {q[3]} {lang_col}")
        kept += 1
    with open(out + ".tmp", "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    os.replace(out + ".tmp", out)
    print(f"{out}: {len(rows)} messages, {kept} buckets of {o.buckets}, scale {scale:.4g}", file=sys.stderr)


if __name__ == "__main__":
    main()
