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


@case
def daemon_reload_names_file_and_line():
    """SIGHUP with a broken rule file: the old rules stay in force, and the
    log says which file and line to fix."""
    import signal
    import time
    from sgtest import Daemon
    d = Daemon()
    own = os.path.join(d.tmp, "kw")
    shutil.copytree(KW, own)  # a copy: the rule file is broken on purpose below
    d.kw = own
    d.start()
    try:
        r = d.post("/v1/inbound", {"id": "k1", "from": "+14155552671", "to": "+14155550100", "body": "STOP"})
        assert r.status == 200 and r.json()["action"] == "opt_out", r
        with open(os.path.join(d.kw, "en.kw"), "a") as f:
            f.write("\nphrase opt_out en.broken stop (unclosed\n")
        d.kill(signal.SIGHUP)
        deadline = time.time() + 10
        while time.time() < deadline and "reload failed" not in d.log():
            time.sleep(0.05)
        log = d.log()
        assert "reload failed" in log, log[-800:]
        assert os.path.join(d.kw, "en.kw") + ":" in log and "en.broken" in log, log[-800:]
        r = d.post("/v1/inbound", {"id": "k2", "from": "+14155552672", "to": "+14155550100", "body": "STOP"})
        assert r.status == 200 and r.json()["action"] == "opt_out", r  # the old rules still read it
    finally:
        d.cleanup()


_cases.finish()
