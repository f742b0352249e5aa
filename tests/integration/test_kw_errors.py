#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A broken keyword rule file is reported by file and line by the CLI
(classify without a store, and commands that open the store), not as
"cannot open data directory"."""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sgtest import CaseFunctions  # noqa: E402

BIN = os.environ.get("STOPGATE_BIN", "build/engine/stopgate")
KW = os.environ.get("SG_KEYWORDS", "keywords")

_cases = CaseFunctions()
case = _cases.case


def broken_dir():
    d = tempfile.mkdtemp(prefix="sg-kwerr-")
    kw = os.path.join(d, "kw")
    os.makedirs(kw)
    with open(os.path.join(kw, "en.kw"), "w") as f:
        f.write("# English\nexact opt_out en.stop STOP\n\n# a bad pattern\n"
                "phrase opt_out en.bad stop (unclosed\n")
    return d, kw


def run(*args):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=60)


@case
def classify_names_file_and_line():
    d, kw = broken_dir()
    p = run("classify", "--keywords", kw, "STOP")
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert os.path.join(kw, "en.kw") + ":5:" in p.stderr, p.stderr
    assert "pattern error" in p.stderr and "en.bad" in p.stderr, p.stderr
    assert "data directory" not in p.stderr, p.stderr
    shutil.rmtree(d)


@case
def store_commands_name_file_and_line():
    d, kw = broken_dir()
    data = os.path.join(d, "data")
    p = run("init", "--data", data, "--keywords", KW)
    assert p.returncode == 0, p.stderr
    p = run("check", "--data", data, "--keywords", kw, "--country", "US", "+14155550100", "+14155552671")
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert os.path.join(kw, "en.kw") + ":5:" in p.stderr, p.stderr
    assert "cannot open data directory" not in p.stderr, p.stderr
    shutil.rmtree(d)


_cases.finish()
