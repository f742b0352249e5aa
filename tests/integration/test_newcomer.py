#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The mistakes of a newcomer's first hour, and what stopgate answers: each
error must say what is wrong, where, and how to fix it.

- a configuration file with a missing comma names the line and column;
- a second JSON object after the first (two files pasted together) is
  refused, not silently ignored with the policy it holds;
- a command on a directory without a store names where the directory came
  from with the real key names (--data, STOPGATE_DATA, "data");
- --node without --replicate is refused (it would run a single node);
- a second daemon on a port in use says how to choose another port;
- an operator opt-out from the CLI while the daemon runs points at the API;
- a wrong --purpose lists the right ones;
- an import names the line and column of bad JSON, and a national number
  in an opt-out list says to give --country;
- an inbound message to a national number of ours says how to write it;
- the HTTP check's frequency_cap answer names the cap's rule, as
  `stopgate check` does."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sgtest  # noqa: E402
from sgtest import CaseFunctions  # noqa: E402

BIN = sgtest.BIN or "build/engine/stopgate"
ROOT = tempfile.mkdtemp(prefix="sg-newcomer-")
KW = sgtest.keywords_dir(ROOT)

_cases = CaseFunctions()
case = _cases.case


def run(*args, env=None):
    e = dict(os.environ)
    e.pop("STOPGATE_DATA", None)
    e.update(env or {})
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=60, env=e)


def config_file(text):
    d = tempfile.mkdtemp(dir=ROOT)
    path = os.path.join(d, "stopgate.json")
    with open(path, "w") as f:
        f.write(text)
    return d, path


@case
def a_missing_comma_names_the_line_and_column():
    d, path = config_file('{\n  "listen": "127.0.0.1:8080"\n  "logLevel": "info"\n}\n')
    p = run("stats", "--config", path, "--data", os.path.join(d, "var"))
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "stopgate.json" in p.stderr and "not valid JSON" in p.stderr, p.stderr
    assert "line 3, column 3" in p.stderr, p.stderr


@case
def a_second_object_after_the_config_is_refused():
    d, path = config_file('{"defaultCountry": "US"}\n{"policy": {"requireRegistered": true}}\n')
    data = os.path.join(d, "var")
    subprocess.run([BIN, "init", "--data", data], capture_output=True, timeout=60, check=True)
    p = run("check", "--config", path, "--data", data, "--keywords", KW, "+14155550100", "+14155552671")
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    assert "text after the configuration object at line 2, column 1" in p.stderr, p.stderr
    # the daemon refuses it as well, before it listens
    s = subprocess.run([BIN, "serve", "--config", path, "--data", data, "--keywords", KW,
                        "--listen", "127.0.0.1:0"], capture_output=True, text=True, timeout=30)
    assert s.returncode == 2 and "text after the configuration object" in s.stderr, (s.returncode, s.stderr)
    # whitespace after the object is still fine
    d, path = config_file('{"defaultCountry": "US"}\n\n  \n')
    p = run("check", "--config", path, "--data", data, "--keywords", KW, "+14155550100", "4155552671")
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)


@case
def no_store_names_the_real_keys():
    p = run("check", "--data", os.path.join(ROOT, "nothing-here"), "+14155550100", "+14155552671")
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "dataDir" not in p.stderr, p.stderr
    for needle in ("--data", "STOPGATE_DATA", '"data"', "stopgate init --data"):
        assert needle in p.stderr, (needle, p.stderr)


@case
def a_port_in_use_says_how_to_choose_another():
    d = sgtest.Daemon().start()
    try:
        data2 = os.path.join(ROOT, "second")
        p = subprocess.run([BIN, "serve", "--data", data2, "--keywords", KW, "--listen", d.listen],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 2, (p.returncode, p.stderr)
        assert "address already in use" in p.stderr, p.stderr
        assert "--listen 127.0.0.1:PORT" in p.stderr, p.stderr
        assert "dataDir" not in p.stderr, p.stderr
    finally:
        d.cleanup()


@case
def the_http_frequency_cap_names_its_rule():
    d = sgtest.Daemon().start()
    try:
        ours, florida = "+14155550100", "+13055550123"
        now = datetime.now(timezone.utc).replace(microsecond=0)
        sends = [{"id": f"N{i}", "from": ours, "to": florida, "category": "marketing",
                  "at": (now - timedelta(hours=3 - i)).strftime("%Y-%m-%dT%H:%M:%SZ")} for i in range(3)]
        r = d.post("/v1/sends", {"sends": sends})
        assert r.status == 200 and r.json()["recorded"] == 3, r
        # ask for an instant in Florida's day (14:00-24:00 UTC is 9 am to 7 pm
        # there, summer or winter), so that quiet hours do not answer first,
        # and within 24 h of the sends
        at = now if now.hour >= 14 else now.replace(hour=14, minute=30, second=0)
        at = at.strftime("%Y-%m-%dT%H:%M:%SZ")
        j = d.get(f"/v1/check?from=%2B14155550100&to=%2B13055550123&category=marketing&at={at}").json()
        assert (j["allow"], j["reason"]) == (False, "frequency_cap"), j
        assert j.get("rule") == "FL" and j.get("next_allowed_at"), j
        # no campaign: the sends of this sender are the subject
        assert j.get("scope") == {"kind": "sender", "id": ours}, j
        b = d.post("/v1/check", {"from": ours, "to": [florida], "category": "marketing", "at": at})
        b = b.json()["results"][0]
        assert b["reason"] == "frequency_cap" and b.get("rule") == "FL", b
        cli = run("check", "--data", d.data, "--keywords", KW, "--category", "marketing", "--at", at, ours, florida)
        assert json.loads(cli.stdout).get("rule") == "FL", (cli.stdout, cli.stderr)
    finally:
        d.cleanup()


@case
def an_optout_beside_the_daemon_says_to_use_the_api():
    d = sgtest.Daemon().start()
    try:
        p = run("optout", "--data", d.data, "--keywords", KW, "+14155550100", "+14155552671")
        assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
        assert "in use" in p.stderr and "POST /v1/consent" in p.stderr, p.stderr
        p = run("check", "--data", d.data, "--keywords", KW, "--purpose", "confirm", "+14155550100", "+14155552671")
        assert p.returncode == 2 and "optout_confirm" in p.stderr, (p.returncode, p.stderr)
    finally:
        d.cleanup()


@case
def a_national_number_of_ours_says_how_to_fix_it():
    d = sgtest.Daemon().start()
    try:
        r = d.post("/v1/inbound", {"from": "+14155552671", "to": "4155550100", "body": "STOP"})
        assert r.status == 422 and r.json()["error"] == "invalid_number", r
        detail = r.json()["detail"]
        assert detail.startswith("to: ") and "+14155550100" in detail and "defaultCountry" in detail, detail
    finally:
        d.cleanup()


@case
def an_inbound_answer_says_whether_it_changed_consent():
    d = sgtest.Daemon().start()
    try:
        def send(i, body, at=None):
            msg = {"id": f"SMap{i}", "from": "+14155552671", "to": "+14155550100", "body": body}
            if at:
                msg["received_at"] = at
            r = d.post("/v1/inbound", msg)
            assert r.status == 200, r
            j = r.json()
            return j["action"], j["duplicate"], j["applied"]
        assert send(1, "STOP") == ("opt_out", False, True)
        assert send(2, "START") == ("opt_in", False, True)
        # a STOP from before that START: recorded, changes nothing, and says so
        assert send(3, "STOP", "2026-01-05T16:09:33Z") == ("opt_out", False, False)
        assert send(3, "STOP", "2026-01-05T16:09:33Z") == ("opt_out", True, False)  # its retry
        v = d.get("/v1/check?from=%2B14155550100&to=%2B14155552671").json()
        assert v["allow"], v
    finally:
        d.cleanup()


@case
def a_mistyped_option_names_the_one_meant():
    p = run("check", "--dat", "/nonexistent", "+14155550100", "+14155552671")
    assert p.returncode == 2 and "unknown option --dat (did you mean --data?)" in p.stderr, p.stderr
    p = run("export", "audit", "--sinse", "2026-01-01")
    assert p.returncode == 2 and "(did you mean --since?)" in p.stderr, p.stderr
    p = run("check", "--zzzz", "x", "y")
    assert p.returncode == 2 and "unknown option --zzzz\n" in p.stderr, p.stderr  # nothing close: no guess


@case
def a_number_that_does_not_parse_says_which_and_how():
    d = tempfile.mkdtemp(dir=ROOT)
    assert run("init", "--data", d).returncode == 0
    p = run("check", "--data", d, "4155550100", "+14155552671")
    assert p.returncode == 1 and json.loads(p.stdout)["reason"] == "invalid_number", p
    assert "FROM '4155550100'" in p.stderr and "--country" in p.stderr and "E.164" in p.stderr, p.stderr
    p = run("check", "--data", d, "+14155550100", "+1415555")
    assert p.returncode == 1 and "TO '+1415555'" in p.stderr, p.stderr
    p = run("optout", "--data", d, "4155550100", "4155552671")
    assert p.returncode == 2 and "FROM '4155550100'" in p.stderr and "--country" in p.stderr, p.stderr


@case
def a_node_name_without_servers_is_refused():
    p = subprocess.run([BIN, "serve", "--data", os.path.join(ROOT, "fleetless"), "--keywords", KW,
                        "--listen", "127.0.0.1:0", "--node", "gw-a"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "--replicate" in p.stderr, (p.returncode, p.stderr)
    assert not os.path.exists(os.path.join(ROOT, "fleetless", "data.mdb")), "a store was made"


@case
def imports_say_where_and_how_to_fix():
    d = tempfile.mkdtemp(dir=ROOT)
    data = os.path.join(d, "var")
    subprocess.run([BIN, "init", "--data", data], capture_output=True, timeout=60, check=True)
    bad = os.path.join(d, "campaigns.json")
    with open(bad, "w") as f:
        f.write('[{"campaignId": "C2", "brandId": "B",\n  "status": ACTIVE}]\n')
    p = run("import", "campaigns", "--data", data, "--keywords", KW, bad)
    assert p.returncode == 2 and "line 2, column 13" in p.stderr, (p.returncode, p.stderr)
    nat = os.path.join(d, "list.csv")
    with open(nat, "w") as f:
        f.write("phone\n4155552691\n")
    p = run("import", "optouts", "--data", data, "--keywords", KW, "--scope", "global", nat)
    assert "list.csv:2" in p.stderr and "--country" in p.stderr, p.stderr
    p = run("import", "optouts", "--data", data, "--keywords", KW, "--scope", "global", "--country", "US", nat)
    assert p.returncode == 0 and json.loads(p.stdout)["added"] == 1, (p.stdout, p.stderr)


shutil.rmtree(ROOT, True)
_cases.finish()
