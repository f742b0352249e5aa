#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Group access (docs/operations.md, "Install"): a daemon whose data directory
is 0750 (2750: files take its group) makes the store's files readable by the directory's group (lock.mdb
writable by it, as LMDB readers record themselves there), so a gateway
running as another user in that group checks read-only beside the daemon; a
user outside the group is refused; a 0700 directory keeps every file 0600.
Needs root (to run the gateway as other users)."""
import os
import shutil
import subprocess
import tempfile

from sgtest import BIN, Daemon, run

OURS, HANDSET, OTHER = "+14155550100", "+14155552671", "+14155552672"
GROUP = 64991       # the "stopgate" group of this test (no name needed)
GATEWAY = 64992     # a gateway user in it
STRANGER = 64993    # a user outside it


def as_user(uid, gids):
    def drop():
        os.setgroups(gids)
        os.setgid(gids[0] if gids else uid)
        os.setuid(uid)
    return drop


def check_as(uid, gids, data, frm, to):
    return subprocess.run([BIN, "check", "--data", data, frm, to], capture_output=True, text=True,
                          preexec_fn=as_user(uid, gids), timeout=30)


def body(c):
    if os.geteuid() != 0:
        c.check("runs as root (needed to act as other users)", False, "not root")
        return
    top = tempfile.mkdtemp(prefix="sg-group-")
    os.chmod(top, 0o711)
    try:
        data = os.path.join(top, "data")
        os.mkdir(data)
        os.chown(data, 0, GROUP)
        os.chmod(data, 0o2750)  # setgid: files take the directory's group (the daemon runs as root here)
        d = Daemon(data=data).start()
        try:
            r = d.post("/v1/inbound", {"id": "grp-1", "from": HANDSET, "to": OURS, "body": "STOP"})
            c.eq("STOP recorded", r.status, 200)
            modes = {f: os.stat(os.path.join(data, f)).st_mode & 0o777 for f in os.listdir(data)}
            c.eq("data.mdb 0640", modes.get("data.mdb"), 0o640)
            c.eq("lock.mdb 0660 (readers record themselves)", modes.get("lock.mdb"), 0o660)
            c.eq("writer.lock 0640", modes.get("writer.lock"), 0o640)
            c.eq("filter.bits 0640", modes.get("filter.bits"), 0o640)
            c.check("no warning for a group-readable directory",
                    "open to other users" not in d.log(), d.log()[-400:])
            g = check_as(GATEWAY, [GROUP], data, OURS, HANDSET)
            c.check("a gateway in the group sees the opt-out beside the daemon",
                    g.returncode == 1 and '"opted_out"' in g.stdout, (g.returncode, g.stdout, g.stderr))
            g = check_as(GATEWAY, [GROUP], data, OURS, OTHER)
            c.check("and an allowed pair", g.returncode == 0 and '"allow":true' in g.stdout,
                    (g.returncode, g.stdout, g.stderr))
            s = check_as(STRANGER, [], data, OURS, OTHER)
            c.check("a user outside the group is refused, not answered",
                    s.returncode == 2 and '"allow":true' not in s.stdout, (s.returncode, s.stdout, s.stderr))
        finally:
            d.stop()
        # a 0700 directory: every file back to 0600 at the next start
        os.chmod(data, 0o700)
        d = Daemon(data=data).start()
        try:
            d.post("/v1/inbound", {"id": "grp-2", "from": HANDSET, "to": OTHER, "body": "STOP"})
            modes = {f: os.stat(os.path.join(data, f)).st_mode & 0o777 for f in os.listdir(data)}
            c.check("a 0700 directory makes every file 0600 again",
                    all(m == 0o600 for m in modes.values()) and len(modes) >= 4, modes)
        finally:
            d.stop()
    finally:
        shutil.rmtree(top, ignore_errors=True)


run("group_access", body)
