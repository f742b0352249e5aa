#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The stopgate CLI, run as a real binary on real temp data directories:
optout/check (the foundation issue's acceptance example), optin, imports,
classify, stats/head/verify, --help on every subcommand, error exits."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sgtest import CaseFunctions  # noqa: E402

BIN = os.environ.get("STOPGATE_BIN", "build/engine/stopgate")
KW = os.environ.get("SG_KEYWORDS", "keywords")


_cases = CaseFunctions()
case = _cases.case


def sg(data, *args, stdin=None, expect=None):
    cmd = [BIN, *args[:1], "--data", data, "--keywords", KW, "--country", "US", *args[1:]]
    p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=60)
    if expect is not None and p.returncode != expect:
        raise AssertionError(f"{' '.join(args)}: exit {p.returncode}, want {expect}; stderr={p.stderr!r}")
    return p


def fresh():
    d = tempfile.mkdtemp(prefix="sg-cli-")
    sg(d, "init", expect=0)  # only init and serve create a store
    return d


@case
def optout_then_check_national_number():
    d = fresh()
    p = sg(d, "optout", "+14155550100", "+14155552671", expect=0)
    ev = json.loads(p.stdout)
    assert ev["event"] == 1 and ev["applied"] is True, ev
    p = sg(d, "check", "+14155550100", "4155552671", expect=1)
    v = json.loads(p.stdout)
    assert v["allow"] is False and v["reason"] == "opted_out", v
    assert v["scope"] == {"kind": "sender", "id": "+14155550100"}, v
    assert v["since"].endswith("Z"), v
    p = sg(d, "check", "+14155550100", "+14155552672", expect=0)
    assert json.loads(p.stdout) == {"allow": True, "reason": None, "scope": None, "since": None}
    sg(d, "optin", "+14155550100", "+14155552671", expect=0)
    sg(d, "check", "+14155550100", "4155552671", expect=0)


@case
def check_several_recipients():
    d = fresh()
    sg(d, "optout", "+14155550100", "+14155552671", expect=0)
    p = sg(d, "check", "+14155550100", "4155552671", "+14155552672", "nonsense", expect=1)
    lines = [json.loads(line) for line in p.stdout.splitlines()]
    assert [v["to"] for v in lines] == ["4155552671", "+14155552672", "nonsense"], lines
    assert list(lines[0])[0] == "to" and lines[0]["reason"] == "opted_out", lines[0]
    assert lines[1]["allow"] is True and lines[2]["reason"] == "invalid_number", lines
    p = sg(d, "check", "+14155550100", "+14155552672", "+14155552673", expect=0)
    assert all(json.loads(line)["allow"] for line in p.stdout.splitlines()), p.stdout
    p = sg(d, "check", "+14155550100", *[f"+1415555{i:04d}" for i in range(1001)], expect=2)
    assert "at most 1000" in p.stderr, p.stderr
    p = sg(d, "check", "--campaign", "", "+14155550100", "+14155552672", expect=2)
    assert "--campaign" in p.stderr, p.stderr


@case
def check_only_without_keywords():
    d = fresh()
    sg(d, "optout", "+14155550100", "+14155552671", expect=0)
    p = sg(d, "check", "--keywords", "none", "+14155550100", "+14155552671", expect=1)
    assert json.loads(p.stdout)["reason"] == "opted_out", p.stdout
    p = sg(d, "classify", "--keywords", "none", "STOP", expect=2)
    assert "without keyword rules" in p.stderr, p.stderr
    p = sg(d, "serve", "--keywords", "none", "--listen", "127.0.0.1:0", expect=2)
    assert "needs keyword rules" in p.stderr, p.stderr


@case
def data_directory_is_private():
    d = os.path.join(fresh(), "store")
    sg(d, "init", expect=0)
    sg(d, "optout", "+14155550100", "+14155552671", expect=0)
    assert os.stat(d).st_mode & 0o777 == 0o700, oct(os.stat(d).st_mode)
    assert os.stat(os.path.join(d, "data.mdb")).st_mode & 0o777 == 0o600


@case
def check_errors_and_invalid_numbers():
    d = fresh()
    p = sg(d, "check", "+14155550100", "hello", expect=1)
    assert json.loads(p.stdout)["reason"] == "invalid_number"
    p = sg(d, "check", "+14155550100", expect=2)
    assert "usage" in p.stderr
    p = sg(d, "check", "--purpose", "bogus", "+14155550100", "+14155552671", expect=2)
    assert "purpose" in p.stderr
    p = sg(d, "optout", "+14155550100", "07911123456", expect=2)  # GB number under US
    assert "TO" in p.stderr
    p = sg(d, "optout", "--bogus", "+14155550100", "+14155552671", expect=2)
    assert "unknown option" in p.stderr


@case
def every_subcommand_has_help():
    d = fresh()
    for sub in ["check", "optout", "optin", "import", "stats", "head", "verify", "classify", "serve"]:
        p = subprocess.run([BIN, sub, "--help"], capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, (sub, p.returncode, p.stderr)
        assert "usage" in p.stdout.lower(), (sub, p.stdout)
    p = subprocess.run([BIN, "frobnicate"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "unknown command" in p.stderr


@case
def import_registry_and_campaign_scope():
    d = fresh()
    camp = os.path.join(d, "..", os.path.basename(d) + "-campaigns.json")
    with open(camp, "w") as f:
        json.dump({"campaigns": [
            {"campaignId": "CX7Y2Z1", "brandId": "BABC123", "status": "ACTIVE", "usecase": "MARKETING",
             "brandName": "Acme", "optoutKeywords": "STOP,ALTO", "optoutMessage": "Acme: unsubscribed."},
            {"campaignId": "COLD", "brandId": "BABC123", "status": "EXPIRED"}]}, f)
    p = sg(d, "import", "campaigns", camp, expect=0)
    assert json.loads(p.stdout)["imported"] == 2
    senders = camp + ".csv"
    with open(senders, "w") as f:
        f.write("number,campaignId,group\n+14155550100,CX7Y2Z1,MG1\n(415) 555-0101,CX7Y2Z1\n+14155550102,COLD\n")
    p = sg(d, "import", "senders", senders, expect=0)
    assert json.loads(p.stdout)["imported"] == 3
    # an opt-out through one number of the campaign covers its other number
    sg(d, "optout", "+14155550100", "+14155552671", expect=0)
    v = json.loads(sg(d, "check", "+14155550101", "+14155552671", expect=1).stdout)
    assert v["scope"] == {"kind": "campaign", "id": "CX7Y2Z1"}, v
    s = json.loads(sg(d, "stats", expect=0).stdout)
    assert s["campaigns"] == 2 and s["senders"] == 3 and s["opted_out"] == 1, s
    bad = camp + ".bad.json"
    with open(bad, "w") as f:
        f.write('{"campaignId": 5}')
    p = sg(d, "import", "campaigns", bad, expect=2)
    assert "campaignId" in p.stderr
    with open(bad, "w") as f:
        f.write('{"campaignId": "X", ')
    p = sg(d, "import", "campaigns", bad, expect=2)
    assert "not valid JSON" in p.stderr


@case
def import_optouts_plain_and_platform_layouts():
    d = fresh()
    plain = d + "-plain.csv"
    with open(plain, "w") as f:
        f.write("+14155552671\n4155552672\n\nnot-a-number\n")
    p = sg(d, "import", "optouts", "--scope", "global", plain, expect=1)  # a row rejected: exit 1
    r = json.loads(p.stdout)
    assert (r["added"], r["already"], r["rejected"]) == (2, 0, 1), r
    p = sg(d, "import", "optouts", "--scope", "global", plain, expect=1)  # a row rejected: exit 1
    r = json.loads(p.stdout)
    assert (r["added"], r["already"]) == (0, 2), r  # idempotent
    sg(d, "check", "+19998887777", "+14155552672", expect=1)  # global covers every sender
    aws = d + "-aws.csv"
    with open(aws, "w") as f:
        f.write("OptedOutNumber,OptedOutTimestamp,EndUserOptedOut\n"
                "+14155553000,2024-05-01T10:00:00Z,true\n\"+1 (415) 555-3001\",2024-05-02T10:00:00Z,true\n")
    p = sg(d, "import", "optouts", "--from", "+14155550100", aws, expect=0)
    assert json.loads(p.stdout)["added"] == 2
    sg(d, "check", "+14155550100", "+14155553001", expect=1)
    sg(d, "check", "+14155550199", "+14155553001", expect=0)  # per sender, not global
    p = sg(d, "import", "optouts", aws, expect=2)  # no sender and no global scope
    assert "--from" in p.stderr
    out = sg(d, "verify", expect=0).stdout
    assert out.startswith("ok: 4 events"), out


@case
def classify_one_and_stdin():
    d = fresh()
    p = sg(d, "classify", "STOP", expect=0)
    r = json.loads(p.stdout)
    assert r["intent"] == "opt_out" and r["rule"], r
    assert r["reply"], r
    p = sg(d, "classify", "--stdin", stdin="stop\nsee you at 5\nHELP\nSTART\n", expect=0)
    intents = [line.split("\t")[0] for line in p.stdout.splitlines()]
    assert intents == ["opt_out", "none", "help", "opt_in"], p.stdout


@case
def head_and_verify_detect_tampering():
    d = fresh()
    for i in range(5):
        sg(d, "optout", "+14155550100", f"+1415555{2600 + i}", expect=0)
    h = json.loads(sg(d, "head", expect=0).stdout)
    assert h["seq"] == 5 and len(h["hash"]) == 64, h
    out = sg(d, "verify", expect=0).stdout
    assert out == f"ok: 5 events, head {h['hash']}\n", out
    # flip one byte of a stored event's recipient with the real LMDB tools: "+14155552602" as
    # text (the full form of stores before 0.2) or as packed digits (the compact form)
    dump = subprocess.run(["mdb_dump", "-s", "events", d], capture_output=True, text=True, check=True).stdout
    forms = [("2b3134313535353532363032", "2b3134313535353532363039"), ("17141555526020", "17141555526090")]
    found = [(was, now) for was, now in forms if was in dump]
    assert len(found) == 1, dump
    tampered = dump.replace(found[0][0], found[0][1], 1)
    subprocess.run(["mdb_load", "-s", "events", d], input=tampered, text=True, check=True)
    p = sg(d, "verify", expect=1)
    assert p.stdout.startswith("broken at event 3:"), p.stdout


@case
def readers_do_not_block_the_writer_lock():
    d = fresh()
    sg(d, "optout", "+14155550100", "+14155552671", expect=0)
    # read-only commands run while a daemon holds the writer lock; writers are refused
    holder = subprocess.Popen([BIN, "serve", "--data", d, "--keywords", KW, "--listen", "127.0.0.1:0"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        import time
        deadline = time.time() + 10
        while not os.path.exists(os.path.join(d, "writer.lock")) and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        assert holder.poll() is None, f"daemon exited: {holder.stderr.read()}"
        sg(d, "check", "+14155550100", "+14155552671", expect=1)
        p = sg(d, "optout", "+14155550100", "+14155552672", expect=2)
        assert "in use" in p.stderr, p.stderr
    finally:
        holder.terminate()
        holder.wait(timeout=30)


_cases.finish()
