#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""keywords/intent.model is what scripts/train-model.py makes from the dev
corpora with the engine's own features, byte for byte: the shipped model
can be rebuilt by anyone from the repository, and a change of the corpora,
the features or the trainer that is not followed by retraining fails here.
Also: the trainer never reads the held-out corpus, and a model trained on a
handful of messages loads and answers through the real `stopgate classify`."""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sgtest  # noqa: E402

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRAIN = os.path.join(SRC, "scripts", "train-model.py")
KW = sgtest.KEYWORDS or os.path.join(SRC, "keywords")
cases = sgtest.Cases("model_train")
tmp = tempfile.mkdtemp(prefix="sg-train-")
try:
    out = os.path.join(tmp, "intent.model")
    p = subprocess.run([sys.executable, TRAIN, "--stopgate", sgtest.BIN, "--keywords", KW, "--out", out],
                       capture_output=True, text=True, timeout=600)
    cases.eq("the trainer runs", p.returncode, 0)
    shipped = open(os.path.join(KW, "intent.model"), "rb").read()
    made = open(out, "rb").read() if os.path.exists(out) else b""
    cases.check("keywords/intent.model is what the trainer makes from the corpora", made == shipped,
                "retrain it: scripts/train-model.py (and commit keywords/intent.model)")
    cases.check("its header says what it was trained on", b"Trained on " in made and b"stopgate-model 1" in made)

    # A tiny corpus of its own: the trainer reads only the directory's own
    # files (a holdout/ below it is never training data), and the model it
    # makes answers through the CLI.
    corpus = os.path.join(tmp, "corpus")
    os.makedirs(os.path.join(corpus, "holdout"))
    with open(os.path.join(corpus, "en.tsv"), "w") as f:
        for i in range(30):
            f.write(f"opt_out\tmsg frobnicate zorbling {i}\n")
            f.write(f"none\tmsg bake zorbling cake {i}\n")
    with open(os.path.join(corpus, "holdout", "en.tsv"), "w") as f:
        f.write("no tab here: would stop the trainer if it were read\n")
    kw = os.path.join(tmp, "kw")
    os.makedirs(kw)
    for name in os.listdir(KW):
        if name.endswith(".kw"):
            shutil.copy(os.path.join(KW, name), kw)
    p = subprocess.run([sys.executable, TRAIN, "--stopgate", sgtest.BIN, "--keywords", kw, "--corpus", corpus],
                       capture_output=True, text=True, timeout=300)
    cases.eq("a model from a corpus of 60 messages", p.returncode, 0)
    cases.check("the held-out directory is not read", "60 messages" in p.stderr, p.stderr)
    p = subprocess.run([sgtest.BIN, "classify", "--keywords", kw, "--stdin"],
                       input="msg frobnicate zorbling\nmsg bake zorbling cake\n",
                       capture_output=True, text=True, timeout=60)
    got = [line.split("\t") for line in p.stdout.splitlines()]
    cases.check("it answers a text the rules do not know",
                len(got) == 2 and got[0][0] == "opt_out" and got[0][1].startswith("en.model."), p.stdout)
    cases.check("and leaves the other alone", len(got) == 2 and got[1][0] == "none", p.stdout)
    with open(os.path.join(kw, "intent.model"), "a") as f:
        f.write("w 1 0 0 0 0 -\n")  # a bucket out of order
    p = subprocess.run([sgtest.BIN, "classify", "--keywords", kw, "hello"], capture_output=True, text=True,
                       timeout=60)
    cases.check("a broken model file is an error naming its file and line",
                p.returncode != 0 and "intent.model:" in p.stderr and "out of order" in p.stderr, p.stderr)
except Exception as exc:  # noqa: BLE001
    cases.crash(exc)
finally:
    shutil.rmtree(tmp, True)
cases.finish()
