#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The configuration file, read by the real binary: a misspelt, repeated or
wrongly typed key anywhere in the file stops the CLI and the daemon at start
with the key, the file and the nearest known key (issue 11, item 14). A typo
such as "requireRegisterd" used to be ignored, so the policy it meant to turn
on stayed off and unregistered senders were allowed."""
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sgtest import CaseFunctions  # noqa: E402

BIN = os.environ.get("STOPGATE_BIN", "build/engine/stopgate")
KW = os.environ.get("SG_KEYWORDS", "keywords")
ROOT = tempfile.mkdtemp(prefix="sg-config-")
atexit.register(shutil.rmtree, ROOT, True)


_cases = CaseFunctions()
case = _cases.case


def write_config(obj_or_text):
    d = tempfile.mkdtemp(dir=ROOT)
    path = os.path.join(d, "stopgate.json")
    with open(path, "w") as f:
        f.write(obj_or_text if isinstance(obj_or_text, str) else json.dumps(obj_or_text))
    os.chmod(path, 0o600)
    return d, path


def cli(path, data, *args):
    cmd = [BIN, args[0], "--config", path, "--data", data, "--keywords", KW, *args[1:]]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def serve(path, data):
    """The daemon must exit (2) at start; one that keeps running is a failure."""
    cmd = [BIN, "serve", "--config", path, "--data", data, "--keywords", KW, "--listen", "127.0.0.1:0"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise AssertionError("the daemon started with a bad config")
    return p.returncode, err


def refused(conf, *needles):
    """Both the CLI and the daemon refuse conf; each message names the file
    and every needle."""
    d, path = write_config(conf)
    data = os.path.join(d, "var")
    p = cli(path, data, "check", "+14155550100", "+14155552671")
    assert p.returncode == 2, f"check: exit {p.returncode}, stdout={p.stdout!r} stderr={p.stderr!r}"
    assert p.stdout == "", p.stdout  # no verdict printed
    for n in (path, *needles):
        assert n in p.stderr, (n, p.stderr)
    rc, err = serve(path, data)
    assert rc == 2, (rc, err)
    for n in (path, *needles):
        assert n in err, (n, err)


@case
def misspelt_policy_key_is_refused_with_the_nearest_key():
    refused({"policy": {"requireRegisterd": True}}, '"requireRegisterd"', 'did you mean "requireRegistered"')


@case
def misspelt_key_at_the_top_level():
    refused({"polcy": {"requireRegistered": True}}, '"polcy"', '"policy"')
    refused({"defaultcountry": "US"}, '"defaultcountry"', '"defaultCountry"')  # case matters in JSON


@case
def misspelt_limits_and_retention_keys():
    refused({"limits": {"maxConections": 10}}, "limits", '"maxConections"', '"maxConnections"')
    refused({"retention": {"redactBodiesAfterDay": 30}}, "retention", '"redactBodiesAfterDays"')


@case
def unknown_key_far_from_any_lists_the_known_ones():
    refused({"policy": {"zzzzzzzzzzzz": 1}}, '"zzzzzzzzzzzz"', "requireOptin")


@case
def provider_sections_are_checked_by_the_cli_too():
    refused({"providers": {"twilio": {"authTokn": "x"}}}, "providers.twilio", '"authTokn"', '"authToken"')
    refused({"providers": {"twillio": {"authToken": "x"}}}, '"twillio"', '"twilio"')
    refused({"providers": {"telnyx": "key"}}, "providers.telnyx", "object")


@case
def repeated_key_is_refused():
    # cJSON would read the first; the author may have meant the last
    refused('{"policy": {"requireRegistered": true, "requireRegistered": false}}', '"requireRegistered"',
            "twice")


@case
def wrong_types_are_refused_and_named_with_their_section():
    refused({"policy": {"requireRegistered": "yes"}}, "policy.requireRegistered")
    refused({"policy": {"requireOptin": None}}, "policy.requireOptin")
    refused({"limits": {"maxConnections": "10"}}, "limits.maxConnections")
    refused({"retention": 30}, "retention")
    refused({"policy": []}, "policy")


@case
def a_correct_config_still_works_and_turns_the_policy_on():
    d, path = write_config({"policy": {"requireRegistered": True, "dedupHours": 48},
                            "limits": {"maxConnections": 100}, "retention": {"redactBodiesAfterDays": 0},
                            "providers": {"twilio": {"replyWithTwiml": False}}, "logLevel": "info"})
    data = os.path.join(d, "var")
    if subprocess.run([BIN, "init", "--help"], capture_output=True, timeout=30).returncode == 0:
        subprocess.run([BIN, "init", "--data", data], capture_output=True, timeout=60, check=True)
    p = cli(path, data, "optout", "+14155550100", "+14155550111")
    assert p.returncode == 0, p.stderr
    p = cli(path, data, "check", "+14155550100", "+14155552671")
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    assert json.loads(p.stdout)["reason"] == "sender_unregistered", p.stdout


_cases.finish()
