#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Request logs: one line per request at info level, with our request id and
the caller's X-Request-Id; the format chosen by logFormat / --log-format
(text, logfmt, json: every line of the daemon, one JSON object each);
refusals rate-limited per endpoint and status; nothing per request at warn;
a mistyped format is refused at start."""
import json
import re
import subprocess
import time

from sgtest import BIN, Daemon, run

OURS, HANDSET = "+14155550100", "+14155552671"


def lines_after(d, n0):
    time.sleep(0.2)
    return d.log().splitlines()[n0:]


def json_format(c):
    d = Daemon(config={"logFormat": "json"}).start()
    try:
        n0 = len(d.log().splitlines())
        d.get(f"/v1/check?from=%2B{OURS[1:]}&to=%2B{HANDSET[1:]}", headers={"X-Request-Id": 'gw-7 "x"'})
        d.post("/v1/inbound", {"id": "rl-1", "from": HANDSET, "to": OURS, "body": "STOP"})
        for _ in range(30):
            d.get("/no/such/endpoint")
        new = lines_after(d, n0)
        objs = []
        for line in new:
            try:
                objs.append(json.loads(line))
            except ValueError:
                objs.append(None)
        c.check("every line is one JSON object", new and all(isinstance(o, dict) for o in objs), new[:3])
        objs = [o for o in objs if isinstance(o, dict)]
        reqs = [o for o in objs if o.get("msg") == "request"]
        c.eq("one request line per answered request (check, inbound)", [o.get("endpoint") for o in reqs],
             ["check", "inbound"])
        if len(reqs) == 2:
            a, b = reqs
            c.check("with level, time, group, numeric id and status, duration and peer",
                    a["level"] == "info" and a["group"] == "http" and isinstance(a["id"], int) and
                    a["status"] == 200 and isinstance(a["us"], int) and a["peer"].startswith("127.0.0.1:") and
                    re.match(r"\d{4}-\d\d-\d\dT", a["time"]), a)
            c.eq("the caller's X-Request-Id, as sent", a.get("rid"), 'gw-7 "x"')
            c.check("request ids increase", b["id"] > a["id"], (a["id"], b["id"]))
            c.eq("method and path", (b["method"], b["path"]), ("POST", "/v1/inbound"))
        refused = [o for o in objs if o.get("msg") == "request refused"]
        c.check("30 refusals (404): a burst of lines, then suppressed",
                1 <= len(refused) <= 10 and any("suppress" in o.get("msg", "") for o in objs),
                (len(refused), [o.get("msg") for o in objs][-3:]))
        c.check("a refusal says its status and endpoint", refused and refused[0]["status"] == 404 and
                refused[0]["endpoint"] == "other", refused[:1])
    finally:
        d.stop()


def logfmt_format(c):
    d = Daemon(args=["--log-format", "logfmt"]).start()
    try:
        n0 = len(d.log().splitlines())
        d.get("/healthz")
        new = lines_after(d, n0)
        req = [line for line in new if 'msg="request"' in line]
        c.check("logfmt: time=, level=, group=, msg= then the pairs", req and re.match(
            r'^time=\S+ level=info group=http msg="request" id=\d+ method=GET path="/healthz" '
            r'endpoint=healthz status=200 us=\d+ peer=127\.0\.0\.1:\d+$', req[0]), new)
        c.check("the daemon's other lines too", any(line.startswith("time=") and 'msg="listening"' in line
                                                    for line in d.log().splitlines()), d.log()[:400])
    finally:
        d.stop()


def text_and_warn(c):
    d = Daemon().start()
    try:
        n0 = len(d.log().splitlines())
        d.get("/healthz")
        new = lines_after(d, n0)
        c.check("text (the default): 'info  [http  ] request id=...'",
                any(re.search(r" info  \[http  \] request id=\d+ method=GET path=\"/healthz\"", x) for x in new), new)
    finally:
        d.stop()
    d = Daemon(args=["--log-level", "warn"]).start()
    try:
        n0 = len(d.log().splitlines())
        for _ in range(5):
            d.get("/healthz")
        c.check("at warn no line per request", not [x for x in lines_after(d, n0) if "request" in x],
                d.log()[-300:])
    finally:
        d.stop()


def bad_format(c):
    d = Daemon(config={"logFormat": "xml"})
    r = subprocess.run(d.command(), capture_output=True, text=True, timeout=30)
    c.check("logFormat \"xml\" is refused at start, naming the key",
            r.returncode == 2 and "logFormat" in r.stderr, (r.returncode, r.stderr[-300:]))
    r = subprocess.run([BIN, "serve", "--log-format", "yaml", "--data", d.data], capture_output=True, text=True,
                       timeout=30)
    c.check("--log-format yaml too", r.returncode == 2 and "--log-format" in r.stderr, r.stderr[-300:])
    d.cleanup()


def body(c):
    for fn in (json_format, logfmt_format, text_and_warn, bad_format):
        try:
            fn(c)
        except Exception as e:  # noqa: BLE001 - reported as a failed case
            c.check(f"{fn.__name__}: ran to the end", False, repr(e))


run("request_log", body)
