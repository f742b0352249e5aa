#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The daemon as systemd runs it: readiness over NOTIFY_SOCKET (READY=1 once
listening, RELOADING=1 then READY=1 around a SIGHUP reload, STOPPING=1 on
SIGTERM), also on an abstract socket; and the installed unit
(build/packaging/stopgate.service) passes `systemd-analyze verify` and
keeps its hardening (`systemd-analyze security` exposure), when
systemd-analyze is there."""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from sgtest import BIN, Daemon, run

BUILD = os.environ.get("SG_BUILD_ROOT", "")


def recv_until(sock, want, timeout=20):
    got = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        sock.settimeout(max(0.1, deadline - time.time()))
        try:
            msg = sock.recv(4096).decode()
        except socket.timeout:
            break
        got.append(msg)
        if want in msg.split("\n"):
            return got, True
    return got, False


def notify_case(c, addr_name, bind_addr, env_value):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(bind_addr)
    d = Daemon(env={"NOTIFY_SOCKET": env_value}).start(wait=False)
    try:
        got, ok = recv_until(s, "READY=1")
        c.check(f"{addr_name}: READY=1 once listening", ok, got)
        c.eq(f"{addr_name}: and it answers then", d.get("/healthz").status, 200)
        d.kill(signal.SIGHUP)
        got, ok = recv_until(s, "RELOADING=1")
        c.check(f"{addr_name}: RELOADING=1 on SIGHUP", ok, got)
        got, ok = recv_until(s, "READY=1")
        c.check(f"{addr_name}: READY=1 after the reload", ok, got)
        d.kill(signal.SIGTERM)
        got, ok = recv_until(s, "STOPPING=1")
        c.check(f"{addr_name}: STOPPING=1 on SIGTERM", ok, got)
        c.eq(f"{addr_name}: exits 0", d.proc.wait(timeout=30), 0)
    finally:
        d.stop()
        s.close()


def body(c):
    tmp = tempfile.mkdtemp(prefix="sg-notify-")
    try:
        path = os.path.join(tmp, "notify.sock")
        notify_case(c, "path socket", path, path)
        name = f"sg-notify-{os.getpid()}"
        notify_case(c, "abstract socket", "\0" + name, "@" + name)
        d = Daemon(env={"NOTIFY_SOCKET": os.path.join(tmp, "nobody-listens")}).start()
        try:
            c.eq("a notify socket nobody listens on changes nothing", d.get("/healthz").status, 200)
            alerts = os.path.join(os.environ.get("SG_SOURCE_ROOT", ""), "packaging", "prometheus",
                                  "stopgate-alerts.yml")
            names = set(re.findall(r"\b(stopgate_[a-z_]+?)(?:_bucket|_sum|_count)?\b", open(alerts).read()))
            names = {n for n in names if not n.startswith("stopgate_alerts")}
            metrics = d.get("/metrics").body.decode()
            missing = sorted(n for n in names if f"# TYPE {n} " not in metrics)
            c.check("every metric the example alerts use is exported by /metrics", names and not missing,
                    (sorted(names), missing))
        finally:
            d.stop()

        unit = os.path.join(BUILD, "packaging", "stopgate.service")
        sa = shutil.which("systemd-analyze")
        c.check("the unit is built", os.path.exists(unit), unit)
        if sa and os.path.exists(unit):
            text = open(unit).read()
            c.check("Type=notify", "Type=notify" in text)
            exec_line = re.search(r"^ExecStart=(\S+)", text, re.M).group(1)
            local = os.path.join(tmp, "stopgate.service")
            with open(local, "w") as f:
                f.write(text.replace(exec_line, BIN))
            man = os.path.join(tmp, "man")
            os.mkdir(man)
            os.symlink(os.path.join(BUILD, "packaging", "man"), os.path.join(man, "man1"))
            env = dict(os.environ, MANPATH=man)
            v = subprocess.run([sa, "verify", local], capture_output=True, text=True, env=env, timeout=60)
            c.check("systemd-analyze verify passes", v.returncode == 0 and not v.stderr.strip(),
                    v.stdout + v.stderr)
            s = subprocess.run([sa, "security", "--offline=true", local], capture_output=True, text=True,
                               env=env, timeout=60)
            m = re.search(r"Overall exposure level for \S+: ([\d.]+)", s.stdout + s.stderr)
            c.check("systemd-analyze security: exposure at most 2.0 (hardened)",
                    m is not None and float(m.group(1)) <= 2.0, (s.stdout + s.stderr)[-300:])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


run("service", body)
