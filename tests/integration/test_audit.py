#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Compliance audit through the real CLI on real stores: export audit (JSONL
parsed back and chained, CSV with hostile cells parsed back with the csv
module, filters), export optouts and its idempotent re-import, proof,
redaction of bodies recorded by the daemon, tampering through
mdb_dump/mdb_load, and a log of SG_AUDIT_EVENTS (default 1,000,000) events:
verify and export throughput and peak memory of the export process.

Memory: the store is an mmap'd LMDB file, so pages the export reads count
in its resident set as file-backed (page cache) memory. The constant-memory
claim is about the process's own (anonymous) memory, RssAnon, sampled from
/proc while it runs; RssFile is printed for the record."""
import csv
import datetime
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sgtest import Daemon, keywords_dir, run  # noqa: E402

BIN = os.environ.get("STOPGATE_BIN", "")
TMP = tempfile.mkdtemp(prefix="sg-audit-")
KW = keywords_dir(TMP)
OURS = "+14155550100"
FIELDS = ["seq", "time", "event_time", "action", "source", "scope", "scope_id", "sender", "recipient",
          "campaign", "brand", "provider", "provider_msg_id", "rule", "body", "body_len", "body_redacted",
          "reply", "note", "body_sha256", "prev_hash", "hash", "dedup_key", "keywords"]
HOSTILE_NOTE = '=HYPERLINK("http://evil.example","click"), "quoted"\nsecond line'
KEYWORDS = ["-2+3", "+1 (415) go", "\tTAB", "plain, with comma", "line\r\nbreak", "@SUM(A1)"]


def sg(data, *args, expect=0, timeout=120):
    cmd = [BIN, args[0], "--data", data, "--keywords", KW, "--country", "US", *args[1:]]
    p = subprocess.run(cmd, capture_output=True, timeout=timeout)
    if expect is not None and p.returncode != expect:
        raise AssertionError(f"{' '.join(args)}: exit {p.returncode}, want {expect}; stderr={p.stderr!r}")
    return p


def jsonl(data, *args):
    out = sg(data, "export", "audit", *args).stdout.decode()
    return [json.loads(line) for line in out.splitlines()]


def head(data):
    return json.loads(sg(data, "head").stdout)


def fresh(name, init=True):
    d = os.path.join(TMP, name)
    if init:
        sg(d, "init")  # only init and serve create a store
    return d


def neutralised(v):
    """What a CSV cell holds for a JSON value (engine/export/export.h)."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    plain_e164 = len(v) >= 2 and v[0] == "+" and v[1:].isdigit() and len(v) <= 21
    if v and v[0] in "=+-@\t\r" and not plain_e164:
        return "'" + v
    return v


def small_store(c):
    d = fresh("small")
    sg(d, "optout", "--note", HOSTILE_NOTE, OURS, "+14155552671")
    sg(d, "optout", "--scope", "global", "--note", "@SUM(1+1)", OURS, "+14155552672")
    sg(d, "optin", OURS, "+14155552673")
    path = os.path.join(TMP, '=cmd,"x".csv')
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["phone", "from", "keyword", "created_at"])
        for i, kw in enumerate(KEYWORDS):
            w.writerow([f"415555{2700 + i}", OURS, kw, f"2024-01-0{i + 1}T00:00:00Z"])
    out = json.loads(sg(d, "import", "optouts", path).stdout)
    c.eq("import: every row added", out, {"kind": "optouts", "added": len(KEYWORDS), "already": 0,
                                          "rejected": 0})
    again = json.loads(sg(d, "import", "optouts", path).stdout)
    c.eq("import again: nothing added (idempotent)", (again["added"], again["already"]), (0, len(KEYWORDS)))
    return d, path


def test_jsonl_chain(c, d, path):
    evs = jsonl(d)
    n = 3 + len(KEYWORDS)
    c.eq("jsonl: one line per event", [e["seq"] for e in evs], list(range(1, n + 1)))
    c.eq("jsonl: every field, in order", list(evs[0].keys()), FIELDS)
    c.check("jsonl: prev_hash links every event", all(evs[i]["prev_hash"] == evs[i - 1]["hash"]
                                                       for i in range(1, n)) and evs[0]["prev_hash"] == "0" * 64)
    h = head(d)
    c.eq("jsonl: last hash is the head", (evs[-1]["seq"], evs[-1]["hash"]), (h["seq"], h["hash"]))
    c.eq("jsonl: hostile note kept exactly", evs[0]["note"], HOSTILE_NOTE)
    imp = evs[3:]
    c.check("import: source import, file name as note",
            all(e["source"] == "import" and e["note"] == os.path.basename(path) for e in imp), imp[0])
    c.eq("import: keyword column is the rule", [e["rule"] for e in imp], KEYWORDS)
    c.eq("import: created_at is the event time", imp[0]["event_time"], "2024-01-01T00:00:00.000000Z")
    v = sg(d, "verify").stdout.decode()
    c.check("verify ok after import", v.startswith(f"ok: {n} events, head {h['hash']}"), v)


def test_csv(c, d):
    evs = jsonl(d)
    raw = sg(d, "export", "audit", "--format", "csv").stdout.decode("utf-8")
    c.check("csv: CRLF records", raw.startswith(",".join(FIELDS) + "\r\n"), raw[:300])
    rows = list(csv.reader(io.StringIO(raw, newline="")))
    c.eq("csv: header", rows[0], FIELDS)
    c.eq("csv: one row per event", len(rows) - 1, len(evs))
    want = [[neutralised(e[k]) for k in FIELDS] for e in evs]
    c.eq("csv: every cell is the JSON value, neutralised", rows[1:], want)
    byseq = {int(r[0]): dict(zip(FIELDS, r)) for r in rows[1:]}
    c.eq("csv: formula note neutralised", byseq[1]["note"], "'" + HOSTILE_NOTE)
    c.eq("csv: @ note neutralised", byseq[2]["note"], "'@SUM(1+1)")
    c.eq("csv: E.164 cells untouched", (byseq[1]["sender"], byseq[1]["recipient"]), (OURS, "+14155552671"))
    rules = [byseq[s]["rule"] for s in range(4, 4 + len(KEYWORDS))]
    c.eq("csv: - + TAB @ neutralised, comma and CRLF kept",
         rules, ["'-2+3", "'+1 (415) go", "'\tTAB", "plain, with comma", "line\r\nbreak", "'@SUM(A1)"])
    c.check("csv: note file name with = , \" neutralised", byseq[4]["note"] == "'" + '=cmd,"x".csv',
            byseq[4]["note"])


def test_filters(c, d):
    evs = jsonl(d)

    def seqs(*args):
        return [e["seq"] for e in jsonl(d, *args)]
    t = [e["time"] for e in evs]
    c.eq("filter --since inclusive", seqs("--since", t[2]), [e["seq"] for e in evs if e["time"] >= t[2]])
    c.eq("filter --until exclusive", seqs("--until", t[2]), [e["seq"] for e in evs if e["time"] < t[2]])
    c.eq("filter --to national number", seqs("--to", "4155552671"), [1])
    c.eq("filter --from", seqs("--from", OURS), [e["seq"] for e in evs if e["sender"] == OURS])
    c.eq("filter --action opt_in", seqs("--action", "opt_in"), [3])
    c.eq("filter --action list", seqs("--action", "opt_in,opt_out"), [e["seq"] for e in evs])
    c.eq("filter --campaign unknown", seqs("--campaign", "NOPE"), [])
    c.eq("filters combine", seqs("--to", "+14155552700", "--action", "opt_out", "--format", "jsonl"), [4])
    for bad in (["--action", "stop"], ["--since", "yesterday"], ["--format", "xml"], ["--to", "hello"]):
        p = sg(d, "export", "audit", *bad, expect=None)
        c.eq(f"export {' '.join(bad)}: exit 2", p.returncode, 2)


def test_optouts(c, d):
    raw = sg(d, "export", "optouts").stdout.decode()
    rows = list(csv.DictReader(io.StringIO(raw, newline="")))
    c.eq("optouts: header", list(rows[0].keys()),
         ["phone_number", "scope", "scope_id", "opted_out_at", "recorded_at", "source", "seq", "latest_at", "latest_seq"])
    c.eq("optouts: every pair opted out now", len(rows), 2 + len(KEYWORDS))
    c.check("optouts: the global block listed",
            any(r["phone_number"] == "+14155552672" and r["scope"] == "global" for r in rows), rows)
    c.check("optouts: the opt-in is not", all(r["phone_number"] != "+14155552673" for r in rows))
    path = os.path.join(TMP, "optouts.csv")
    with open(path, "w", newline="") as f:
        f.write(raw)
    d2 = fresh("reimport")
    first = json.loads(sg(d2, "import", "optouts", path).stdout)
    second = json.loads(sg(d2, "import", "optouts", path).stdout)
    c.eq("optouts re-import: all added, then nothing",
         (first["added"], second["added"], second["already"]), (len(rows), 0, len(rows)))
    rows2 = list(csv.DictReader(io.StringIO(sg(d2, "export", "optouts").stdout.decode(), newline="")))

    def key(r):
        return (r["phone_number"], r["scope"], r["scope_id"], r["opted_out_at"])
    c.eq("optouts round trip keeps numbers, scopes and times", sorted(map(key, rows2)), sorted(map(key, rows)))
    js = sg(d, "export", "optouts", "--format", "jsonl").stdout.decode().splitlines()
    c.eq("optouts jsonl: same pairs", sorted((j["phone_number"], j["scope"]) for j in map(json.loads, js)),
         sorted((r["phone_number"], r["scope"]) for r in rows))


def test_proof(c, d):
    p = sg(d, "proof", OURS, "4155552671")
    doc = json.loads(p.stdout)
    c.eq("proof: keys", (doc["pair"]["from_key"], doc["pair"]["to_key"]), (OURS, "+14155552671"))
    c.eq("proof: verdict", (doc["verdict"]["allow"], doc["verdict"]["reason"]), (False, "opted_out"))
    enc = {s["kind"]: s for s in doc["enclosing_scopes"]}
    c.eq("proof: sender scope opted out by event 1", (enc["sender"]["state"], enc["sender"]["event"]),
         ("opted_out", 1))
    c.eq("proof: global scope state none", enc["global"]["state"], "none")
    exported = jsonl(d, "--to", "+14155552671")
    c.eq("proof: events as exported, with hashes", doc["events"], exported)
    c.eq("proof: head", doc["head"], head(d))
    c.eq("proof: verify", (doc["verify"]["ok"], doc["verify"]["count"]), (True, head(d)["seq"]))


def test_redaction(c):
    dm = Daemon().start()
    bodies = ['=HYPERLINK("http://x","y"), STOP', "STOP", 'stop, "please"\r\n@now']
    try:
        for i, b in enumerate(bodies):
            r = dm.post("/v1/inbound", {"provider": "gateway", "from": f"+1415555{3000 + i}", "to": OURS,
                                        "body": b, "id": f"m{i}"})
            c.eq(f"daemon inbound {i}: recorded", (r.status, r.json()["intent"]), (200, "opt_out"))
    finally:
        c.eq("daemon stops cleanly", dm.stop(), 0)
    d = dm.data
    evs = jsonl(d)
    c.eq("bodies exported verbatim", [e["body"] for e in evs], bodies)
    rows = list(csv.reader(io.StringIO(sg(d, "export", "audit", "--format", "csv").stdout.decode(),
                                       newline="")))
    c.eq("csv bodies neutralised / quoted", [r[14] for r in rows[1:]], [neutralised(b) for b in bodies])
    p = sg(d, "redact", "--before", "2999-01-01", expect=2)
    c.check("redact: a future cut-off is refused", b"past" in p.stderr, p.stderr)
    out = json.loads(sg(d, "redact").stdout)
    c.eq("redact without --before or retention: keep", out["policy"], "keep")
    cfg = os.path.join(TMP, "retention.json")
    with open(cfg, "w") as f:
        json.dump({"retention": {"redactBodiesAfterDays": 3650}}, f)
    c.eq("redact by retention: nothing that old", json.loads(sg(d, "redact", "--config", cfg).stdout)["redacted"], 0)
    time.sleep(0.01)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    out = json.loads(sg(d, "redact", "--before", now).stdout)
    c.eq("redact: every body removed", out["redacted"], len(bodies))
    after = jsonl(d)
    c.eq("redact: bodies null, marked, digests kept",
         [(e["body"], e["body_redacted"], e["body_sha256"]) for e in after[:3]],
         [(None, True, e["body_sha256"]) for e in evs])
    last = after[-1]
    c.eq("redact: recorded as an event", (last["action"], last["recipient"], last["rule"]),
         ("redact", None, "redact_bodies"))
    c.check("verify ok after redaction", sg(d, "verify").stdout.startswith(b"ok: 4 events"))
    c.eq("consent facts stay: still opted out",
         json.loads(sg(d, "check", OURS, "+14155553001", expect=1).stdout)["reason"], "opted_out")
    dm.cleanup()


def mdb(args, stdin=None):
    p = subprocess.run(args, input=stdin, capture_output=True, timeout=60)
    if p.returncode:
        raise AssertionError(f"{args}: {p.stderr!r}")
    return p.stdout


def dump_events(d):
    """mdb_dump -s events: header lines, then key / value hex line pairs."""
    lines = mdb(["mdb_dump", "-s", "events", d]).decode().splitlines()
    start = lines.index("HEADER=END") + 1
    end = lines.index("DATA=END")
    return lines[:start], [(lines[i], lines[i + 1]) for i in range(start, end, 2)], lines[end:]


def tampered_copy(c, src, name, edit):
    d = fresh(name, init=False)
    shutil.copytree(src, d)
    hdr, recs, tail = dump_events(d)
    recs = edit(recs)
    if recs is not None:  # overwrite in place
        mdb(["mdb_load", "-s", "events", d], "\n".join(hdr + [x for r in recs for x in r] + tail).encode() + b"\n")
    return sg(d, "verify", expect=None)


def test_tamper(c, d):
    def flip(recs):  # one hex digit inside event 2's canonical encoding
        k, v = recs[1]
        i = len(v) - 80
        return [(k, v[:i] + ("0" if v[i] != "0" else "1") + v[i + 1:])]

    def swap(recs):
        return [(recs[1][0], recs[2][1]), (recs[2][0], recs[1][1])]
    for name, edit, want in (("flip", flip, "broken at event 2: event content does not match its hash"),
                             ("swap", swap, "broken at event 2: event's own sequence differs")):
        p = tampered_copy(c, d, name, edit)
        c.check(f"tamper {name}: verify exit 1 and names the event",
                p.returncode == 1 and p.stdout.decode().startswith(want), p.stdout)
    # delete / truncate: rebuild the environment from a full dump without them
    for name, drop, want in (("delete", {3}, "broken at event 3: event missing"),
                             ("truncate", {9, 8}, "broken at event 8:")):
        dd = fresh(name, init=False)
        os.makedirs(dd, mode=0o700)
        text = mdb(["mdb_dump", "-a", d]).decode().splitlines()
        out, section, i = [], None, 0
        while i < len(text):
            line = text[i]
            if line.startswith("database="):
                section = line.split("=", 1)[1]
            if section == "events" and line.startswith(" ") and i + 1 < len(text) and \
                    text[i + 1].startswith(" ") and int(line.strip(), 16) in drop:
                i += 2
                continue
            out.append(line)
            i += 1
        mdb(["mdb_load", "-f", "/dev/stdin", dd], "\n".join(out).encode() + b"\n")
        p = sg(dd, "verify", expect=None)
        c.check(f"tamper {name}: verify exit 1 and names the event",
                p.returncode == 1 and p.stdout.decode().startswith(want), p.stdout)


def sample(cmd, stdout):
    """Run cmd; return (exit, seconds, peak RssAnon KiB, peak RssFile KiB)."""
    t0 = time.time()
    p = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.DEVNULL)
    anon = filem = 0
    while p.poll() is None:
        try:
            with open(f"/proc/{p.pid}/status") as f:
                for line in f:
                    if line.startswith("RssAnon:"):
                        anon = max(anon, int(line.split()[1]))
                    elif line.startswith("RssFile:"):
                        filem = max(filem, int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.002)
    return p.returncode, time.time() - t0, anon, filem


def sanitized():
    with open(BIN, "rb") as f:
        return b"__asan_init" in f.read()


def test_million(c, small):
    # 1M events in the regular build; a sanitizer build (several times slower) checks 200k
    n = int(os.environ.get("SG_AUDIT_EVENTS", "200000" if sanitized() else "1000000"))
    d = fresh("big")
    path = os.path.join(TMP, "big.csv")
    with open(path, "w") as f:
        f.write("phone\n")
        f.writelines(f"+1{2002000000 + i}\n" for i in range(n))
    t0 = time.time()
    out = json.loads(sg(d, "import", "optouts", "--scope", "global", path, timeout=600).stdout)
    c.eq(f"{n} events imported", out["added"], n)
    print(f"     import {n}: {time.time() - t0:.1f} s", flush=True)
    os.unlink(path)
    base = [BIN, "--data", d, "--keywords", KW]
    rc, secs, anon, filem = sample([BIN, "verify", *base[1:]], subprocess.DEVNULL)
    c.eq(f"verify {n}: ok", rc, 0)
    print(f"     verify: {secs:.2f} s, {n / secs:,.0f} events/s (process wall time, incl. start-up)", flush=True)
    peaks = {}
    for fmt in ("jsonl", "csv"):
        with open(os.devnull, "wb") as null:
            rc, secs, anon, filem = sample([BIN, "export", *base[1:], "audit", "--format", fmt], null)
        c.eq(f"export {fmt} {n}: exit 0", rc, 0)
        peaks[fmt] = anon
        print(f"     export {fmt}: {secs:.2f} s, {n / secs:,.0f} events/s, peak RssAnon {anon} KiB, "
              f"RssFile {filem} KiB (mapped store pages)", flush=True)
    with open(os.devnull, "wb") as null:
        _, _, small_anon, _ = sample([BIN, "export", "--data", small, "--keywords", KW, "audit"], null)
    print(f"     export of the {head(small)['seq']}-event store: peak RssAnon {small_anon} KiB", flush=True)
    if sanitized():  # ASan's shadow of the mapped store grows with what is read: not the export's memory
        print("     (AddressSanitizer build: the memory bound is not checked)", flush=True)
    else:
        c.check(f"export {n}: own memory constant (RssAnon < 16 MiB, within 4 MiB of a 9-event export)",
                all(a < 16384 and a < small_anon + 4096 for a in peaks.values()), (peaks, small_anon))
    shutil.rmtree(d, ignore_errors=True)


def body(c):
    if not BIN or not os.path.exists(BIN):
        raise RuntimeError("STOPGATE_BIN is not set to the stopgate executable")
    d, path = small_store(c)
    test_jsonl_chain(c, d, path)
    test_csv(c, d)
    test_filters(c, d)
    test_optouts(c, d)
    test_proof(c, d)
    test_tamper(c, d)
    test_redaction(c)
    test_million(c, d)


try:
    run("audit_cli", body)
finally:
    shutil.rmtree(TMP, ignore_errors=True)
