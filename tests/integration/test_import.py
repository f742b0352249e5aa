#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""`stopgate import optouts` of provider message logs, run as the real binary
on real LMDB stores (issue 11, item 13). A Twilio log used to be read as an
opt-out list with From as the sender and To as the number: for every inbound
row our own number was opted out from the handset, the handset stayed
allowed, --from was ignored, every row was imported whatever its text, and
"rejected: 0" was reported. The sample logs in tests/data/import/ follow the
providers' documented export columns."""
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
HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "import")
ROOT = tempfile.mkdtemp(prefix="sg-import-")
atexit.register(shutil.rmtree, ROOT, True)

OURS = "+14155550100"


_cases = CaseFunctions()
case = _cases.case


def sg(data, *args, expect=None):
    cmd = [BIN, *args[:1], "--data", data, "--keywords", KW, "--country", "US", *args[1:]]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if expect is not None and p.returncode != expect:
        raise AssertionError(f"{' '.join(args)}: exit {p.returncode}, want {expect}; "
                             f"stdout={p.stdout!r} stderr={p.stderr!r}")
    return p


HAS_INIT = subprocess.run([BIN, "init", "--help"], capture_output=True, timeout=30).returncode == 0


def fresh():
    d = tempfile.mkdtemp(dir=ROOT)
    if HAS_INIT:  # once only `init` and `serve` create a store
        subprocess.run([BIN, "init", "--data", d], capture_output=True, timeout=60, check=True)
    return d


def sample(name):
    return os.path.join(DATA, name)


def allowed(d, sender, handset):
    p = sg(d, "check", sender, handset)
    assert p.returncode in (0, 1), p.stderr
    return json.loads(p.stdout)["allow"]


def events(d):
    p = sg(d, "export", "audit", "--format", "jsonl", expect=0)
    return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]


def import_log(d, name, *flags, expect=0):
    p = sg(d, "import", "optouts", *flags, sample(name), expect=expect)
    return (json.loads(p.stdout) if expect in (0, 1) else None), p.stderr  # 1: some rows rejected


@case
def twilio_log_opts_out_the_handset_not_our_number():
    d = fresh()
    r, err = import_log(d, "twilio-messages.csv", expect=1)
    assert allowed(d, OURS, "+14155552001") is False  # texted STOP
    assert allowed(d, OURS, "+14155552002") is True   # texted "thanks, see you at 5"
    assert allowed(d, OURS, "+14155552005") is True   # only ever received our message
    # the reversed pair is never recorded: our number is not opted out from the handset
    assert allowed(d, "+14155552001", OURS) is True
    assert r["layout"] == "message_log" and r["provider"] == "twilio", r


@case
def only_inbound_keyword_rows_are_imported_and_counted_by_reason():
    d = fresh()
    r, err = import_log(d, "twilio-messages.csv", expect=1)
    # 11 rows: 3 outbound, 1 not a keyword, 3 STOP + 2 START recorded,
    # 1 STOP from a non-number, 1 STOP with an unreadable time
    assert r["rows"] == 11, r
    assert r["skipped"] == {"outbound": 3, "not_keyword": 1, "other_number": 0}, r
    assert (r["added"], r["opt_outs"], r["opt_ins"]) == (5, 3, 2), r
    assert r["rejected"] == 2, r
    assert r["rejected_by"]["bad_number"] == 1 and r["rejected_by"]["bad_time"] == 1, r
    # the bad rows are named with their line numbers
    assert "twilio-messages.csv:11:" in err and "not-a-number" in err, err
    assert "twilio-messages.csv:12:" in err and "yesterday" in err, err
    # rows left out: exit 1, and the count of them (a script must not take it for success)
    assert "2 rows not imported (exit 1)" in err, err
    assert len(events(d)) == 5


@case
def rows_apply_in_time_order_not_file_order():
    # Twilio lists the newest message first: START at 17:00 after STOP at
    # 14:00 wins (2003 allowed); STOP at 18:00 after START at 13:00 wins
    # (2004 opted out)
    d = fresh()
    import_log(d, "twilio-messages.csv", expect=1)
    assert allowed(d, OURS, "+14155552003") is True
    assert allowed(d, OURS, "+14155552004") is False
    # each event carries the row's time
    evs = events(d)
    # recorded in time order, each with the row's time, handset as recipient
    got = [(e["action"], e["recipient"], e["event_time"]) for e in evs]
    assert got == [("opt_in", "+14155552004", "2026-11-03T13:00:00.000000Z"),
                   ("opt_out", "+14155552003", "2026-11-03T14:00:00.000000Z"),
                   ("opt_out", "+14155552001", "2026-11-03T16:00:00.000000Z"),
                   ("opt_in", "+14155552003", "2026-11-03T17:00:00.000000Z"),
                   ("opt_out", "+14155552004", "2026-11-03T18:00:00.000000Z")], got
    assert all(e["sender"] == OURS and e["source"] == "import" for e in evs), evs


@case
def importing_the_same_log_twice_records_nothing_new():
    d = fresh()
    import_log(d, "twilio-messages.csv", expect=1)
    head1 = json.loads(sg(d, "head", expect=0).stdout)
    r, _ = import_log(d, "twilio-messages.csv", expect=1)
    assert (r["added"], r["already"]) == (0, 5), r
    assert json.loads(sg(d, "head", expect=0).stdout) == head1
    # also under another file name (a copy of the same export)
    copy = os.path.join(d + "-copy.csv")
    shutil.copy(sample("twilio-messages.csv"), copy)
    p = sg(d, "import", "optouts", copy, expect=1)
    assert json.loads(p.stdout)["added"] == 0, p.stdout
    assert json.loads(sg(d, "head", expect=0).stdout) == head1


@case
def telnyx_plivo_and_bandwidth_logs():
    d = fresh()
    r, _ = import_log(d, "telnyx-messages.csv")
    assert (r["added"], r["skipped"]["outbound"], r["skipped"]["not_keyword"]) == (2, 1, 1), r
    assert allowed(d, "+13125550100", "+13125552101") is False  # "Please stop texting me."
    assert allowed(d, "+13125550100", "+13125552103") is False  # UNSUBSCRIBE
    assert allowed(d, "+13125550100", "+13125552102") is True
    r, _ = import_log(d, "plivo-messages.csv")  # national digits, message_direction
    assert (r["added"], r["provider"]) == (1, "plivo"), r
    assert allowed(d, "+16505550100", "+16505552201") is False
    assert allowed(d, "+16505552201", "+16505550100") is True
    r, _ = import_log(d, "bandwidth-messages.csv")  # direction in / out
    assert r["added"] == 1 and r["skipped"]["outbound"] == 1, r
    assert allowed(d, "+19195550100", "+19195552301") is False
    assert allowed(d, "+19195550100", "+19195552302") is True


@case
def ambiguous_logs_are_refused_and_nothing_is_written():
    d = fresh()
    sg(d, "optout", OURS, "+14155559999", expect=0)  # a store with one event
    head = json.loads(sg(d, "head", expect=0).stdout)
    _, err = import_log(d, "no-direction.csv", expect=2)
    assert "direction" in err and "--from" in err, err
    _, err = import_log(d, "unknown-direction.csv", expect=2)
    assert "unknown-direction.csv:3:" in err and "sideways" in err, err
    _, err = import_log(d, "plivo-mdr-no-text.csv", expect=2)
    assert "text" in err, err
    # a log cut down to From/To is not taken for an opt-out list (whose From is ours)
    cut = d + "-cut.csv"
    with open(cut, "w") as f:
        f.write("From,To,SentDate,Sid\n+14155552501,+14155550100,2026-11-08T10:00:00Z,SM1\n")
    p = sg(d, "import", "optouts", cut, expect=2)
    assert "text" in p.stderr, p.stderr
    # --from on the handset's side of the file: the file and --from disagree
    _, err = import_log(d, "twilio-messages.csv", "--from", "+14155552001", expect=2)
    assert "disagree" in err, err
    assert json.loads(sg(d, "head", expect=0).stdout) == head
    assert allowed(d, OURS, "+14155552501") is True  # the valid row of the refused file: not written


@case
def from_tells_the_side_of_a_log_without_direction_and_filters_a_log_with_one():
    d = fresh()
    r, _ = import_log(d, "no-direction.csv", "--from", OURS)
    assert r["added"] == 1 and r["skipped"]["outbound"] == 1 and r["skipped"]["other_number"] == 1, r
    assert allowed(d, OURS, "+14155552401") is False
    assert allowed(d, "+14155550199", "+14155552402") is True  # a row to another number: not ours here
    # no message id in this layout: the row itself is the de-duplication key
    r, _ = import_log(d, "no-direction.csv", "--from", OURS)
    assert (r["added"], r["already"]) == (0, 1), r
    d = fresh()
    r, err = import_log(d, "twilio-messages.csv", "--from", "+14155550199")
    assert r["added"] == 0 and r["skipped"]["other_number"] == 8, r
    assert "no inbound row is to --from" in err, err
    assert allowed(d, OURS, "+14155552001") is True


@case
def from_is_not_ignored_for_a_list_with_a_sender_column():
    d = fresh()
    lst = d + "-telnyx-optouts.csv"
    with open(lst, "w") as f:
        f.write("from,to,keyword,created_at\n"
                "+14155550100,+14155552601,STOP,2026-11-01T10:00:00Z\n"
                "+14155550177,+14155552602,STOP,2026-11-01T10:00:00Z\n")
    p = sg(d, "import", "optouts", "--from", OURS, lst, expect=1)
    r = json.loads(p.stdout)
    assert (r["added"], r["rejected"]) == (1, 1), r
    assert "--from" in p.stderr and ":3:" in p.stderr, p.stderr


@case
def row_times_in_the_formats_providers_write():
    d = fresh()
    log = d + "-times.csv"
    rows = [("+14155552801", "2026-11-03 12:00:00 UTC", "2026-11-03T12:00:00.000000Z"),
            ("+14155552802", "2026-11-03 12:00:00.250000+00:00", "2026-11-03T12:00:00.250000Z"),
            ("+14155552803", "Tue, 03 Nov 2026 07:00:00 -0500", "2026-11-03T12:00:00.000000Z"),
            ("+14155552804", "03 Nov 2026 12:00:00 GMT", "2026-11-03T12:00:00.000000Z"),
            ("+14155552805", "1793707200", "2026-11-03T12:00:00.000000Z"),
            ("+14155552806", "1793707200000", "2026-11-03T12:00:00.000000Z"),
            ("+14155552807", "nan", None), ("+14155552808", "-1793707200", None),
            ("+14155552809", "Tue, 03 Nov 2026 12:00:00 EST", None), ("+14155552810", "", None)]
    with open(log, "w") as f:
        f.write("direction,from,to,text,timestamp\n")
        for num, t, _ in rows:
            f.write(f'inbound,{num},{OURS},STOP,"{t}"\n')
    r, err = import_log(d, log, expect=1)
    assert (r["added"], r["rejected_by"]["bad_time"]) == (6, 4), (r, err)
    got = {e["recipient"]: e["event_time"] for e in events(d)}
    assert got == {num: want for num, _, want in rows if want}, got


@case
def long_message_ids_and_texts():
    d = fresh()
    log = d + "-long.csv"
    sid = "SM" + "f" * 198
    with open(log, "w") as f:
        f.write("Direction,From,To,Body,SentDate,Sid\n")
        f.write(f"inbound,+14155552901,{OURS},STOP,2026-11-03T12:00:00Z,{sid}\n")
        f.write(f"inbound,+14155552902,{OURS},STOP,2026-11-03T12:00:00Z,{'x' * 400}\n")
        f.write(f'inbound,+14155552903,{OURS},"{"please " * 300}stop texting me",2026-11-03T12:00:00Z,SM1\n')
    r, err = import_log(d, log)
    assert r["added"] == 3 and r["rejected"] == 0, (r, err)  # a 2,100-character text is read too
    assert allowed(d, OURS, "+14155552901") is False and allowed(d, OURS, "+14155552902") is False
    assert allowed(d, OURS, "+14155552903") is False
    r, _ = import_log(d, log)
    assert r["added"] == 0, r


@case
def a_probable_revocation_follows_the_policy():
    log = fresh() + "-probable.csv"
    with open(log, "w") as f:
        f.write(f"direction,from,to,text,timestamp\ninbound,+14155553001,{OURS},I said stop,2026-11-03T12:00:00Z\n")
    d = fresh()
    r, _ = import_log(d, log)
    assert (r["opt_outs"], r["reviews"]) == (1, 0), r
    assert allowed(d, OURS, "+14155553001") is False
    d = fresh()
    conf = d + "-config.json"
    with open(conf, "w") as f:
        json.dump({"policy": {"probable": "review"}}, f)
    p = sg(d, "import", "optouts", "--config", conf, log, expect=0)
    r = json.loads(p.stdout)
    assert (r["opt_outs"], r["reviews"]) == (0, 1), r
    assert [e["action"] for e in events(d)] == ["review"]
    assert allowed(d, OURS, "+14155553001") is True


@case
def plain_lists_still_import():
    d = fresh()
    lst = d + "-plain.csv"
    with open(lst, "w") as f:
        f.write("+14155552701\n4155552702\n")
    r = json.loads(sg(d, "import", "optouts", "--from", OURS, lst, expect=0).stdout)
    assert r["added"] == 2, r
    assert allowed(d, OURS, "+14155552702") is False


@case
def opt_out_lists_are_recorded_in_key_order_each_recipients_rows_in_file_order():
    # Sorted by recipient before recording (few dirty pages per event, issue 14);
    # the rows of one recipient keep their file order, bad rows keep their line.
    d = fresh()
    lst = d + "-unsorted.csv"
    with open(lst, "w") as f:
        f.write("from,to,keyword,created_at,scope,scope_id\n"
                f"{OURS},+14155552903,STOP,2026-11-01T10:00:00Z,sender,{OURS}\n"
                f"{OURS},+14155552901,STOP,2026-11-01T11:00:00Z,global,\n"
                f"{OURS},not-a-number,STOP,2026-11-01T11:00:00Z,sender,{OURS}\n"
                f"{OURS},+14155552902,UNSUBSCRIBE,2026-11-01T12:00:00Z,sender,{OURS}\n"
                f"{OURS},+14155552901,QUIT,2026-11-01T09:00:00Z,sender,{OURS}\n")
    p = sg(d, "import", "optouts", "--from", OURS, lst, expect=1)
    r = json.loads(p.stdout)
    assert (r["added"], r["rejected"]) == (4, 1), r
    assert ":4:" in p.stderr, p.stderr
    got = [(e["recipient"], e["rule"], e["scope"]) for e in events(d) if e.get("source") == "import"]
    assert got == [("+14155552901", "STOP", "global"), ("+14155552901", "QUIT", "sender"),
                   ("+14155552902", "UNSUBSCRIBE", "sender"), ("+14155552903", "STOP", "sender")], got
    for n in ("+14155552901", "+14155552902", "+14155552903"):
        assert allowed(d, OURS, n) is False, n


_cases.finish()
