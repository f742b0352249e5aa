#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A three-server NATS JetStream cluster on loopback for the fleet tests and
bench (docs/fleet.md): random free ports, JetStream file storage in a
temporary directory, the configuration of shared/reference/fleet.md."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

from sgtest import free_port

NATS = shutil.which("nats-server")


class NatsServer:
    def __init__(self, name, tmp, port, mon, cport, routes):
        self.name, self.port, self.mon = name, port, mon
        self.conf = os.path.join(tmp, f"{name}.conf")
        self.log = os.path.join(tmp, f"{name}.log")
        with open(self.conf, "w") as f:
            f.write(f"server_name: {name}\nlisten: 127.0.0.1:{port}\nhttp: 127.0.0.1:{mon}\n"
                    f"jetstream {{ store_dir: {os.path.join(tmp, name)}, max_memory_store: 64MB, "
                    f"max_file_store: 1GB }}\n"
                    f"cluster {{ name: sg, listen: 127.0.0.1:{cport}, routes: [{routes}] }}\n")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([NATS, "-c", self.conf], stdout=open(self.log, "ab"),
                                     stderr=subprocess.STDOUT)

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def jsz(self):
        url = f"http://127.0.0.1:{self.mon}/jsz?accounts=true&streams=true"
        with urllib.request.urlopen(url, timeout=2) as r:
            return json.load(r)


class Cluster:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="sg-nats-")
        ports = [(free_port(), free_port(), free_port()) for _ in range(3)]
        routes = ", ".join(f"nats-route://127.0.0.1:{c}" for _, _, c in ports)
        self.servers = [NatsServer(f"n{i + 1}", self.tmp, p, m, c, routes)
                        for i, (p, m, c) in enumerate(ports)]
        self.urls = ",".join(f"nats://127.0.0.1:{s.port}" for s in self.servers)

    def start(self):
        for s in self.servers:
            s.start()
        deadline = time.time() + 30
        while time.time() < deadline:  # JetStream ready: a meta leader is known
            try:
                if all(s.jsz().get("meta_cluster", {}).get("leader") for s in self.servers):
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the NATS cluster did not elect a JetStream meta leader")

    def stream_leader(self):
        for s in self.servers:
            try:
                for acc in s.jsz().get("account_details", []):
                    for st in acc.get("stream_detail", []):
                        if st.get("name") == "STOPGATE" and st.get("cluster", {}).get("leader"):
                            return next(x for x in self.servers if x.name == st["cluster"]["leader"])
            except (OSError, StopIteration):
                continue
        return None

    def cleanup(self):
        for s in self.servers:
            if s.proc and s.proc.poll() is None:
                s.proc.kill()
                s.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)
