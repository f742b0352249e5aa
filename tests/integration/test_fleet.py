#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A fleet of stopgate nodes on NATS JetStream (issue 15, docs/fleet.md):
three real nats-server processes clustered on loopback (JetStream file
storage in temporary directories) and three `stopgate serve --replicate`
nodes. An opt-out at one node denies at another; a retried webhook at
another node answers what the first delivery answered; under load, with 10 %
of the messages retried to a different node and kill -9 of the stream
leader and of one stopgate node (both restarted), every acknowledged event
is in every node's audit export exactly once, every acknowledged STOP denies
on every node, chain heads and `stopgate verify` agree; a node bootstrapped
from a backup converges. Skips (77) only when nats-server is not installed."""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sgtest import BIN, CaseFunctions, Daemon, free_port, q  # noqa: E402
from natscluster import Cluster  # noqa: E402

if not shutil.which("nats-server"):
    print("nats-server not installed (apt-get install nats-server): skipped")
    sys.exit(77)

SHIM = os.environ.get("SG_CRASHSHIM", "")  # tests/integration/crashshim.c (meson sets it)
OURS = "+14155550100"
ORDER_RCPT = "+14155550993"
cases = CaseFunctions()
case = cases.case


@case
def replication_settings_are_checked_by_name():
    tmp = tempfile.mkdtemp(prefix="sg-fleetcfg-")
    try:
        def serve(*args):
            return subprocess.run([BIN, "serve", "--data", os.path.join(tmp, "d"), "--listen",
                                   f"127.0.0.1:{free_port()}"] + list(args), capture_output=True, text=True,
                                  timeout=20)
        r = serve("--replicate", "127.0.0.1:4222", "--node", "a")
        assert r.returncode == 2 and "replication.servers" in r.stderr, (r.returncode, r.stderr)
        r = serve("--replicate", "nats://127.0.0.1:4222")
        assert r.returncode == 2 and "replication.node" in r.stderr, (r.returncode, r.stderr)
        cfg = os.path.join(tmp, "c.json")
        with open(cfg, "w") as f:
            json.dump({"replication": {"servers": ["nats://127.0.0.1:4222"], "node": "a", "maxStale": 1}}, f)
        r = serve("--config", cfg)
        assert r.returncode == 2 and "replication.maxStale" in r.stderr and "maxStaleMs" in r.stderr, r.stderr
        with open(cfg, "w") as f:
            json.dump({"replication": {"servers": ["nats://127.0.0.1:4222"], "node": "a", "onStale": "ignore"}}, f)
        r = serve("--config", cfg)
        assert r.returncode == 2 and "replication.onStale" in r.stderr and "allow" in r.stderr, r.stderr
        with open(cfg, "w") as f:  # no server listens there: the daemon names the setting and stops
            json.dump({"replication": {"servers": [f"nats://127.0.0.1:{free_port()}"], "node": "a"}}, f)
        r = serve("--config", cfg)
        assert r.returncode == 2 and "replication.servers: cannot connect" in r.stderr, r.stderr
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


cluster = Cluster()
cluster.start()
nodes = {}


def node(name, data=None, on_stale="deny"):
    # stale after 2 s without the stream, 503 after 2 s without a PubAck (the
    # cut-off case waits for both)
    d = Daemon(data=data, config={"replication": {"maxStaleMs": 2000, "publishTimeoutMs": 2000,
                                                  "onStale": on_stale}},
               args=["--replicate", cluster.urls, "--node", name])
    d.start()
    nodes[name] = d
    return d


def health(d):
    return d.get("/healthz", timeout=5).json()["replication"]


def settle(ds, timeout=60):
    """Wait until every node applied the stream's last sequence; returns it."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            hs = [health(d) for d in ds]
            last = max(h["stream_last"] for h in hs)
            if all(h["applied"] == last for h in hs):
                return last
        except (OSError, KeyError, ValueError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"nodes did not converge: {[health(d) for d in ds]}")


def inbound(d, msg_id, to_rcpt, body, timeout=15):
    return d.post("/v1/inbound", {"id": msg_id, "provider": "twilio", "from": to_rcpt, "to": OURS,
                                  "body": body}, timeout=timeout)


def check(d, to_rcpt):
    return d.get(f"/v1/check?from={q(OURS)}&to={q(to_rcpt)}").json()


def audit_of(d):
    r = d.get("/v1/audit", timeout=30)
    assert r.status == 200, r
    return [json.loads(line) for line in r.body.decode().splitlines() if line.strip()]


def metric(d, name):
    for line in d.get("/metrics").body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"no {name} in /metrics")


try:
    a, b, c = node("a"), node("b"), node("c", on_stale="allow")  # c: availability over staleness

    @case
    def an_opt_out_at_one_node_denies_at_another():
        r = inbound(a, "SM-first", "+14155552671", "STOP")
        assert r.status == 200, r
        assert r.json()["action"] == "opt_out", r
        settle([a, b, c])
        for d in (a, b, c):
            v = check(d, "+14155552671")
            assert not v["allow"] and v["reason"] == "opted_out", (d.port, v)
        hs = [health(d) for d in (a, b, c)]
        assert len({h["head"] for h in hs}) == 1, hs

    @case
    def a_retry_at_another_node_answers_as_the_first_delivery():
        first = inbound(a, "SM-retry", "+14155552672", "STOP").json()
        again = inbound(b, "SM-retry", "+14155552672", "STOP").json()
        assert not first["duplicate"] and again["duplicate"], (first, again)
        for k in ("event", "action", "reply", "intent"):
            assert first[k] == again[k], (k, first, again)

    @case
    def a_write_is_answered_only_once_its_outbox_row_and_its_apply_are_done():
        """Crash points of the write path (docs/fleet.md, failure table;
        engine/fleet/durable.c). Node x stops for good right before the
        fdatasync of its outbox commit (round 1) or of its store commit,
        the apply (round 2), via the crash shim; the other sync and the
        PubAck are done meanwhile, and still the write is not answered. x is
        killed there (kill -9) and restarted; the provider's retry at b is
        the same event as the first delivery (and as x's republish of its
        row): once in every node's log, denying everywhere."""
        if not SHIM or not os.path.exists(SHIM):
            print("SG_CRASHSHIM not set (run under meson): skipped")
            return
        for rnd, (path, rcpt) in enumerate((("fleet-outbox/data.mdb", "+14155550981"),
                                            ("data/data.mdb", "+14155550982"))):
            tmp = tempfile.mkdtemp(prefix="sg-crashpt-")
            arm, stall = os.path.join(tmp, "arm"), os.path.join(tmp, "stalled")
            # (an ASan build wants its runtime first in the list: the shim goes first)
            asan = os.environ.get("ASAN_OPTIONS", "")
            env = {"LD_PRELOAD": SHIM, "SG_CRASH_CALL": "fdatasync", "SG_CRASH_N": "1", "SG_CRASH_WHEN": "before",
                   "SG_CRASH_PATH": path, "SG_CRASH_ARM": arm, "SG_CRASH_STALL": stall,
                   "ASAN_OPTIONS": (asan + ":" if asan else "") + "verify_asan_link_order=0"}
            x = Daemon(config={"replication": {"maxStaleMs": 2000, "publishTimeoutMs": 2000}},
                       args=["--replicate", cluster.urls, "--node", f"x{rnd}"], env=env)
            nodes[f"x{rnd}"] = x
            x.start()
            settle([a, b, x])
            open(arm, "w").close()  # the next fdatasync on that file stops x
            got = {}

            def send():
                try:
                    got["r"] = inbound(x, f"SM-crashpt{rnd}", rcpt, "STOP", timeout=60)
                except OSError as e:
                    got["err"] = e
            t = threading.Thread(target=send)
            t.start()
            deadline = time.time() + 30
            while time.time() < deadline and not (os.path.exists(stall) and not check(b, rcpt)["allow"]):
                time.sleep(0.05)
            assert os.path.exists(stall), f"x never reached the {path} sync"
            assert not check(b, rcpt)["allow"], "the STOP never reached the stream"
            deadline = time.time() + 30
            if rnd == 0:  # outbox stalled: x applies the message all the same
                while time.time() < deadline and health(x)["applied"] < health(b)["applied"]:
                    time.sleep(0.05)
                assert health(x)["applied"] >= health(b)["applied"], (health(x), health(b))
            else:  # apply stalled: x's outbox row becomes durable all the same
                while time.time() < deadline and metric(x, "stopgate_fleet_outbox_unsynced") > 0:
                    time.sleep(0.05)
                assert metric(x, "stopgate_fleet_outbox_unsynced") == 0
            # in the stream, applied at b (and in round 1 at x): still no answer at x
            assert t.is_alive() and not got, got
            x.kill(signal.SIGKILL)
            x.proc.wait()
            t.join(timeout=30)
            assert "r" not in got or got["r"].status != 200, got
            r = inbound(b, f"SM-crashpt{rnd}", rcpt, "STOP")  # the provider's retry
            assert r.status == 200 and r.json()["duplicate"], r
            for k in ("LD_PRELOAD", "SG_CRASH_CALL", "SG_CRASH_STALL"):
                x.env.pop(k, None)
            x.logfile.close()
            x.start()
            settle([a, b, x])
            for d in (a, b, x):
                evs = [e for e in audit_of(d) if e.get("provider_msg_id") == f"SM-crashpt{rnd}"]
                assert len(evs) == 1, (d.port, evs)
                v = check(d, rcpt)
                assert not v["allow"] and v["reason"] == "opted_out", (d.port, v)
            if rnd == 1:  # the row was durable (written beside the stalled apply): published again, a duplicate
                deadline = time.time() + 30
                while time.time() < deadline and "outbox row published again" not in x.log():
                    time.sleep(0.1)
                lines = [ln for ln in x.log().splitlines() if "outbox row published again" in ln]
                assert lines and all("duplicate=true" in ln for ln in lines), lines
            x.cleanup()
            del nodes[f"x{rnd}"]
            shutil.rmtree(tmp, ignore_errors=True)

    @case
    def acknowledged_outbox_rows_are_deleted_once_outbox_keep_ms_old():
        k = Daemon(config={"replication": {"outboxKeepMs": 0}}, args=["--replicate", cluster.urls, "--node", "k"])
        nodes["k"] = k
        k.start()
        for i in range(5):
            assert inbound(k, f"SM-keep{i}", f"+1415555{3100 + i}", "STOP").status == 200
        deadline = time.time() + 30  # the publisher hands them over each second, the writer deletes them
        while time.time() < deadline and metric(k, "stopgate_fleet_outbox_deleted_total") < 5:
            time.sleep(0.1)
        assert metric(k, "stopgate_fleet_outbox_deleted_total") == 5
        assert k.stop() == 0
        k.logfile.close()
        k.start()
        started = [ln for ln in k.log().splitlines() if "node started" in ln]
        assert len(started) == 2 and "outbox_rows=0" in started[1], started  # with 120 s: outbox_rows=5
        # rows of an earlier run (killed before it deleted them) go too, once published again
        for i in range(5, 10):
            assert inbound(k, f"SM-keep{i}", f"+1415555{3100 + i}", "STOP").status == 200
        k.kill(signal.SIGKILL)
        k.proc.wait()
        k.logfile.close()
        k.start()
        started = [ln for ln in k.log().splitlines() if "node started" in ln]
        left = int(started[-1].rsplit("outbox_rows=", 1)[1].split()[0])
        print(f"outbox rows left by the killed node: {left} of 5")
        deadline = time.time() + 30
        while time.time() < deadline and metric(k, "stopgate_fleet_outbox_deleted_total") < left:
            time.sleep(0.1)
        assert metric(k, "stopgate_fleet_outbox_deleted_total") == left
        assert k.stop() == 0
        k.logfile.close()
        k.start()
        started = [ln for ln in k.log().splitlines() if "node started" in ln]
        assert "outbox_rows=0" in started[-1], started
        k.cleanup()
        del nodes["k"]

    @case
    def consistency_leader_answers_from_the_streams_last_sequence():
        for i in range(20):  # each STOP at a, checked at once at b
            rcpt = f"+1415558{i:04d}"
            assert inbound(a, f"SM-lead{i}", rcpt, "STOP").status == 200
            v = b.get(f"/v1/check?from={q(OURS)}&to={q(rcpt)}&consistency=leader").json()
            assert not v["allow"] and v["reason"] == "opted_out", (i, v)
        r = b.get(f"/v1/check?from={q(OURS)}&to={q('+14155552671')}&consistency=nearest")
        assert r.status == 422, r

    @case
    def registry_changes_and_claims_go_through_the_stream():
        ours2 = "+14155550101"
        r = a.put("/v1/campaigns/C1", {"campaignId": "C1", "brandId": "B1", "status": "ACTIVE"})
        assert r.status == 200, r
        r = b.put("/v1/senders/" + q(ours2), {"campaignId": "C1"})
        assert r.status == 200, r
        settle([a, b, c])
        r = c.post("/v1/inbound", {"id": "SM-campaign", "provider": "twilio", "from": "+14155552673",
                                   "to": ours2, "body": "STOP"})
        assert r.status == 200, r
        settle([a, b, c])
        for d in (a, b, c):
            v = d.get(f"/v1/check?from={q(ours2)}&to={q('+14155552673')}").json()
            assert not v["allow"] and v["scope"] == {"kind": "campaign", "id": "C1"}, (d.port, v)
        # the one confirmation after that STOP: claimed once, in the whole fleet
        path = f"/v1/check?from={q(ours2)}&to={q('+14155552673')}&purpose=optout_confirm"
        first = a.get(path).json()
        assert first["allow"] and first["confirmation"], first
        settle([a, b, c])
        for d in (b, a):
            again = d.get(path).json()
            assert not again["allow"] and again["reason"] == "opted_out", (d.port, again)

    # ---- load with failures ----
    acked = {}      # msg id -> (recipient, action, event)
    lock = threading.Lock()
    problems = []
    stop_rcpts = [f"+1415556{i:04d}" for i in range(1400)]
    cycle_rcpts = [f"+1415557{i:04d}" for i in range(300)]
    alive = {"a": True, "b": True, "c": True}
    progress = [0]
    refused = {"503": 0, "conn": 0}

    def send_until_acked(msg_id, rcpt, body, avoid=None):
        names = ["a", "b", "c"]
        tries = 0
        while tries < 200:
            tries += 1
            with lock:
                live = [n for n in names if alive[n] and n != avoid] or [n for n in names if alive[n]]
            n = random.choice(live)
            try:
                r = inbound(nodes[n], msg_id, rcpt, body, timeout=10)
            except OSError:
                refused["conn"] += 1
                time.sleep(0.2)
                continue
            if r.status == 200:
                return n, r.json()
            if r.status != 503:
                problems.append(f"{msg_id} at {n}: {r}")
                return None, None
            refused["503"] += 1
            time.sleep(0.2)
        problems.append(f"{msg_id}: never acknowledged")
        return None, None

    def worker(w, items):
        rnd = random.Random(w)
        for msg_id, rcpt, body in items:
            n, ans = send_until_acked(msg_id, rcpt, body)
            if not ans:
                continue
            with lock:
                acked[msg_id] = (rcpt, ans["action"], ans["event"])
                progress[0] += 1
            if rnd.random() < 0.10:  # the provider retries to another node
                _, again = send_until_acked(msg_id, rcpt, body, avoid=n)
                if again and (not again["duplicate"] or again["event"] != ans["event"]
                              or again["action"] != ans["action"]):
                    problems.append(f"retry of {msg_id} answered {again}, first {ans}")

    work = []
    for i, r in enumerate(stop_rcpts):
        work.append([(f"SMs{i}", r, "STOP")])
    for i, r in enumerate(cycle_rcpts):  # STOP then START, in order, from one worker
        work.append([(f"SMc{i}a", r, "STOP"), (f"SMc{i}b", r, "START")])
    random.Random(7).shuffle(work)
    lanes = [[] for _ in range(8)]
    for i, items in enumerate(work):
        lanes[i % 8].extend(items)
    total = sum(len(x) for x in lanes)
    threads = [threading.Thread(target=worker, args=(w, lanes[w])) for w in range(8)]
    for t in threads:
        t.start()
    while progress[0] < total // 4 and any(t.is_alive() for t in threads):
        time.sleep(0.05)
    leader = cluster.stream_leader()
    if leader:
        leader.kill9()
    with lock:
        alive["c"] = False
    c.kill(signal.SIGKILL)
    c.proc.wait()
    while progress[0] < total // 2 and any(t.is_alive() for t in threads):
        time.sleep(0.05)
    if leader:
        leader.start()
    c.logfile.close()
    c.start(wait=True)
    with lock:
        alive["c"] = True
    for t in threads:
        t.join(timeout=240)
    print(f"load: {total} messages, leader {leader.name if leader else None} and node c killed; "
          f"answered 503 {refused['503']}, connection failed {refused['conn']} (then retried)", flush=True)

    @case
    def every_message_was_acknowledged():
        assert not problems, problems[:5]
        assert leader is not None, "no stream leader found to kill"
        assert len(acked) == total, (len(acked), total)

    last = settle([a, b, c], timeout=90)

    audit = audit_of

    @case
    def every_acknowledged_event_is_on_every_node_once():
        for d in (a, b, c):
            evs = audit(d)
            by_id = {}
            for e in evs:
                if e["provider_msg_id"]:
                    by_id.setdefault(e["provider_msg_id"], []).append(e)
            for msg_id, (rcpt, action, seq) in acked.items():
                got = by_id.get(msg_id, [])
                assert len(got) == 1, (d.port, msg_id, len(got))
                assert got[0]["seq"] == seq and got[0]["recipient"] == rcpt, (d.port, msg_id, got[0], seq)
                assert got[0]["action"] == action, (msg_id, got[0], action)

    @case
    def every_acknowledged_stop_denies_on_every_node():
        for d in (a, b, c):
            for r in stop_rcpts:
                v = check(d, r)
                assert not v["allow"] and v["reason"] == "opted_out", (d.port, r, v)
            for r in cycle_rcpts:  # the START came after its STOP: allowed
                v = check(d, r)
                assert v["allow"], (d.port, r, v)

    @case
    def the_metrics_count_the_fleet():
        text = a.get("/metrics").body.decode()
        vals = dict(line.rsplit(" ", 1) for line in text.splitlines() if line.startswith("stopgate_fleet_"))
        assert int(vals["stopgate_fleet_applied_seq"]) == last, vals
        assert int(vals["stopgate_fleet_published_total"]) > 0 and vals["stopgate_fleet_diverged"] == "0", vals

    @case
    def chain_heads_and_verify_agree():
        hs = [health(d) for d in (a, b, c)]
        assert len({h["head"] for h in hs}) == 1 and len({h["events"] for h in hs}) == 1, hs
        assert all(h["applied"] == last for h in hs), hs
        for d in (a, b, c):
            out = subprocess.run([BIN, "verify", "--data", d.data], capture_output=True, text=True, timeout=60)
            assert out.returncode == 0 and hs[0]["head"] in out.stdout, (out.returncode, out.stdout, out.stderr)

    @case
    def a_node_bootstrapped_from_a_backup_converges():
        target = os.path.join(tempfile.mkdtemp(prefix="sg-boot-"), "data")
        out = subprocess.run([BIN, "backup", "--data", a.data, target], capture_output=True, text=True,
                             timeout=60)
        assert out.returncode == 0, out.stderr
        r = inbound(b, "SM-after-backup", "+14155559999", "STOP")  # after the copy
        assert r.status == 200, r
        d = node("d", data=target)
        last2 = settle([a, b, c, d])
        hs = [health(x) for x in (a, b, c, d)]
        assert len({h["head"] for h in hs}) == 1 and all(h["applied"] == last2 for h in hs), hs
        v = check(d, "+14155559999")
        assert not v["allow"], v
        shutil.rmtree(os.path.dirname(target), ignore_errors=True)

    @case
    def a_node_cut_off_from_the_stream_denies_stale_replica():
        for s in cluster.servers:
            s.kill9()
        # writes meanwhile, at b and at a: no PubAck, 503 once publishTimeoutMs
        # passed, each row kept for publishing again (at a, the next case sends
        # that recipient a START)
        got = {}
        writes = [threading.Thread(target=lambda: got.update(b=inbound(b, "SM-nostream", "+14155550998", "STOP",
                                                                        timeout=30))),
                  threading.Thread(target=lambda: got.update(a=inbound(a, "SM-order-1", ORDER_RCPT, "STOP",
                                                                        timeout=30)))]
        for t in writes:
            t.start()
        deadline = time.time() + 30
        while time.time() < deadline and not health(b).get("stale"):
            time.sleep(0.25)
        h = b.get("/healthz").json()
        assert h["replication"]["stale"] and not h["replication"]["connected"], h
        v = check(b, "+14155550999")  # no record: allowed by a current node
        assert not v["allow"] and v["reason"] == "stale_replica", v
        v = check(b, "+14155552671")  # an opt-out stays an opt-out
        assert not v["allow"] and v["reason"] == "opted_out", v
        # c chose availability (onStale allow): its own state answers, stale or not
        deadline = time.time() + 30
        while time.time() < deadline and not health(c).get("stale"):
            time.sleep(0.25)
        assert health(c)["stale"], health(c)
        v = check(c, "+14155550999")
        assert v["allow"], v
        v = check(c, "+14155552671")
        assert not v["allow"] and v["reason"] == "opted_out", v
        for t in writes:
            t.join()
        assert got["b"].status == 503 and got["b"].header("Retry-After"), got
        assert got["a"].status == 503, got

    @case
    def the_unacknowledged_write_is_published_from_the_outbox_after_a_crash():
        b.kill(signal.SIGKILL)  # the row is only in b's outbox on disk now
        b.proc.wait()
        cluster.start()  # from their file stores
        # a: the provider's next message for ORDER_RCPT, sent as soon as the
        # servers are back and retried until acknowledged; a's STOP row for
        # that recipient waits in memory to be published again. The START
        # must not reach the stream before it (next case).
        deadline = time.time() + 60
        while True:
            r = inbound(a, "SM-order-2", ORDER_RCPT, "START", timeout=30)
            if r.status == 200:
                break
            assert r.status == 503 and time.time() < deadline, r
            time.sleep(0.1)
        b.logfile.close()
        b.start(wait=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if all(health(d)["connected"] and not health(d)["stale"] for d in (a, b)):
                    break
            except OSError:
                pass
            time.sleep(0.25)
        settle([a, b], timeout=60)
        # b republishes its outbox row; the provider never retried. Until a has
        # applied it, a answers allow, or stale_replica while it reconnects.
        deadline = time.time() + 30
        while time.time() < deadline and check(a, "+14155550998")["reason"] != "opted_out":
            time.sleep(0.25)
        v = check(a, "+14155550998")
        assert not v["allow"] and v["reason"] == "opted_out", v

    @case
    def a_recipients_later_write_is_not_published_before_an_earlier_unacknowledged_one():
        settle([a, b])
        evs = sorted((e for e in audit(a) if e["recipient"] == ORDER_RCPT), key=lambda e: e["seq"])
        assert [e["provider_msg_id"] for e in evs] == ["SM-order-1", "SM-order-2"], evs
        for d in (a, b):
            v = check(d, ORDER_RCPT)
            assert v["allow"], (d.port, v)  # the START, after the STOP

    @case
    def a_store_written_outside_the_stream_is_found_diverged():
        target = os.path.join(tempfile.mkdtemp(prefix="sg-fork-"), "data")
        out = subprocess.run([BIN, "backup", "--data", a.data, target], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        out = subprocess.run([BIN, "optout", "--data", target, OURS, "+14155550997"], capture_output=True,
                             text=True, timeout=60)  # a local write: not in the stream
        assert out.returncode == 0, out.stderr
        e = Daemon(data=target, args=["--replicate", cluster.urls, "--node", "e"])
        e.start(wait=False)
        nodes["e"] = e
        time.sleep(1)
        # the next event of the stream is event N+1 at a, N+2 at e: the heads differ at N+1
        assert inbound(a, "SM-after-fork", "+14155550994", "STOP").status == 200
        deadline = time.time() + 30
        h = {}
        while time.time() < deadline:
            try:
                r = e.get("/healthz", timeout=5)
                h = r.json()
                if r.status == 503 and h["replication"].get("diverged"):
                    break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.25)
        assert h.get("replication", {}).get("diverged"), h
        v = check(e, "+14155550996")
        assert not v["allow"] and v["reason"] == "replica_diverged", v
        r = inbound(e, "SM-diverged", "+14155550995", "STOP")
        assert r.status == 503, r
        shutil.rmtree(os.path.dirname(target), ignore_errors=True)

finally:
    for d in nodes.values():
        d.cleanup()
    cluster.cleanup()
cases.finish()
