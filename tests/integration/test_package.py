#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The Debian packages, as an operator gets them: build stopgate,
libstopgate0 and libstopgate-dev from this tree with `dpkg-buildpackage -us
-uc -b`, install them, check the installed unit (`systemd-analyze verify`),
the user and group, the files and the man page; start the installed binary
the way the unit would (its ExecStart, User, Group, UMask, StateDirectory
0750, NOTIFY_SOCKET; systemd itself may not run in a CI container), record
a STOP over HTTP, check it from a gateway user in the stopgate group (the
CLI and the Python binding on the installed library), stop it, and purge
the packages (the consent records stay). Needs root; serialized by a lock
(the install is system-wide). Leaves the machine as it found it."""
import fcntl
import glob
import grp
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

from sgtest import free_port, run

SRC = os.environ.get("SG_SOURCE_ROOT") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PKGS = ["stopgate", "libstopgate0", "libstopgate-dev"]
STATE = "/var/lib/stopgate"
MARK = os.path.join(STATE, ".stopgate-package-test")
GATEWAY = "sgpkgtest-gw"
OURS, HANDSET, OTHER = "+14155550100", "+14155552671", "+14155552672"


def sh(*cmd, check=True, timeout=600, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and r.returncode:
        raise RuntimeError(f"{' '.join(cmd)}: exit {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    return r


def installed(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
    return "install ok installed" in r.stdout


def as_user(user, extra_groups=()):
    pw = pwd.getpwnam(user)
    gids = [pw.pw_gid] + [grp.getgrnam(g).gr_gid for g in extra_groups]

    def drop():
        os.setgroups(gids)
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)
    return drop


def build(c, work):
    """Copy the tree (tracked and new files) and build the binary packages."""
    src = os.path.join(work, "stopgate")
    files = sh("git", "-C", SRC, "ls-files", "-co", "--exclude-standard", "-z").stdout.split("\0")
    for f in filter(None, files):
        p = os.path.join(SRC, f)
        if os.path.isfile(p):
            os.makedirs(os.path.dirname(os.path.join(src, f)), exist_ok=True)
            shutil.copy2(p, os.path.join(src, f))
    t0 = time.time()
    env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck noddebs parallel=2")
    r = sh("dpkg-buildpackage", "-us", "-uc", "-b", cwd=src, env=env, check=False, timeout=900)
    c.check("dpkg-buildpackage -us -uc -b succeeds", r.returncode == 0, (r.stdout + r.stderr)[-3000:])
    print(f"package build: {time.time() - t0:.0f} s", flush=True)
    debs = {p: glob.glob(os.path.join(work, f"{p}_*.deb")) for p in PKGS}
    c.check("it makes stopgate, libstopgate0 and libstopgate-dev", all(len(v) == 1 for v in debs.values()), debs)
    return [v[0] for v in debs.values() if v]


def contents(deb):
    return sh("dpkg-deb", "-c", deb).stdout


def wait_notify(sock, want, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        sock.settimeout(max(0.1, deadline - time.time()))
        try:
            if want in sock.recv(4096).decode().split("\n"):
                return True
        except socket.timeout:
            return False
    return False


def serve_like_the_unit(c, work):
    unit = open("/lib/systemd/system/stopgate.service").read()
    key = lambda k: re.search(rf"^{k}=(.*)$", unit, re.M).group(1).strip()  # noqa: E731
    argv = key("ExecStart").split()
    c.check("the unit runs the installed binary", argv[0] == "/usr/bin/stopgate" and argv[1] == "serve", argv)
    user, group, umask = key("User"), key("Group"), int(key("UMask"), 8)
    state_mode = int(key("StateDirectoryMode"), 8)
    # what systemd does for StateDirectory=stopgate
    created = not os.path.exists(STATE)
    os.makedirs(STATE, exist_ok=True)
    open(MARK, "w").close()
    os.chown(STATE, pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid)
    os.chmod(STATE, state_mode)
    port = free_port()
    sock_path = os.path.join(work, "notify.sock")
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(sock_path)
    os.chmod(work, 0o755)
    os.chmod(sock_path, 0o777)
    env = {"PATH": "/usr/bin:/bin", "NOTIFY_SOCKET": sock_path, "LANG": "C.UTF-8"}
    log = open(os.path.join(work, "daemon.log"), "wb")

    def child():
        os.umask(umask)
        as_user(user)()
    proc = subprocess.Popen(argv + ["--listen", f"127.0.0.1:{port}"], env=env, stdout=log, stderr=log,
                            preexec_fn=child, cwd="/")
    try:
        c.check("the installed daemon reports READY=1 as the unit's user", wait_notify(ns, "READY=1"),
                open(os.path.join(work, "daemon.log")).read()[-1000:])
        req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/inbound", method="POST",
                                     data=json.dumps({"id": "pkg-1", "from": HANDSET, "to": OURS,
                                                      "body": "STOP"}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            c.eq("a STOP is recorded through the installed daemon", r.status, 200)
        st = os.stat(STATE)
        c.eq("the state directory is 0750, owned by the service", (st.st_mode & 0o7777, st.st_uid),
             (state_mode, pwd.getpwnam(user).pw_uid))
        modes = {f: os.stat(os.path.join(STATE, f)).st_mode & 0o777 for f in os.listdir(STATE) if f != os.path.basename(MARK)}
        c.check("store files readable by the group only (lock.mdb writable by it)",
                modes.get("data.mdb") == 0o640 and modes.get("lock.mdb") == 0o660, modes)
        # a gateway: another user, in the stopgate group
        if not os.path.exists("/home"):
            os.makedirs("/home", exist_ok=True)
        sh("adduser", "--system", "--quiet", "--no-create-home", GATEWAY)
        sh("adduser", "--quiet", GATEWAY, group)
        g = subprocess.run(["/usr/bin/stopgate", "check", "--data", STATE, OURS, HANDSET], capture_output=True,
                           text=True, preexec_fn=as_user(GATEWAY, [group]), env=env, cwd="/")
        c.check("a gateway in the stopgate group checks read-only beside the daemon",
                g.returncode == 1 and '"opted_out"' in g.stdout, (g.returncode, g.stdout, g.stderr))
        py = ("import sys; sys.path.insert(0, sys.argv[1]); import stopgate\n"
              "with stopgate.Engine('/var/lib/stopgate') as e:\n"
              f"    print(e.check('{OURS}', '{HANDSET}').reason, e.check('{OURS}', '{OTHER}').allow)\n")
        p = subprocess.run(["/usr/bin/python3", "-c", py, os.path.join(SRC, "bindings", "python")],
                           capture_output=True, text=True, preexec_fn=as_user(GATEWAY, [group]),
                           env={"PATH": "/usr/bin:/bin"}, cwd="/")
        c.check("the Python binding loads the installed libstopgate.so.0 and sees the opt-out",
                p.stdout.split() == ["opted_out", "True"], (p.stdout, p.stderr[-600:]))
        os.kill(proc.pid, signal.SIGTERM)
        c.check("STOPPING=1 on SIGTERM", wait_notify(ns, "STOPPING=1"))
        c.eq("the daemon exits 0", proc.wait(timeout=60), 0)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        ns.close()
    return created


def body(c):
    if os.geteuid() != 0 or not shutil.which("dpkg-buildpackage") or not shutil.which("dh"):
        c.check("runs as root with dpkg-buildpackage and debhelper (scripts/setup.sh installs them)", False)
        return
    lock = open("/tmp/stopgate-package-test.lock", "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    if installed("stopgate") and not os.path.exists(MARK):
        c.check("stopgate is not installed for real on this machine (not touched)", False,
                "remove the installed stopgate packages or run this test elsewhere")
        return
    user_before = any(p.pw_name == "stopgate" for p in pwd.getpwall())
    work = tempfile.mkdtemp(prefix="sg-pkg-")
    created_state = False
    try:
        debs = build(c, work)
        if len(debs) != 3:
            return
        names = {os.path.basename(d).split("_")[0]: contents(d) for d in debs}
        c.check("stopgate has the binary, the unit, the sysusers entry, the config and the man pages",
                all(x in names["stopgate"] for x in ("./usr/bin/stopgate", "./lib/systemd/system/stopgate.service",
                                                      "./usr/lib/sysusers.d/stopgate.conf",
                                                      "./etc/stopgate/config.json",
                                                      "man1/stopgate-serve.1.gz")), names["stopgate"][-800:])
        c.check("libstopgate0 has the library, the keyword rules and the quiet-hours rules",
                "libstopgate.so.0" in names["libstopgate0"] and "keywords/en.kw" in names["libstopgate0"]
                and "quiet-hours/us.qh" in names["libstopgate0"] and "quiet-hours/zones/nanp.tsv" in names["libstopgate0"])
        c.check("libstopgate-dev has the header, the pkg-config file and the link library",
                all(x in names["libstopgate-dev"] for x in ("stopgate.h", "stopgate.pc", "libstopgate.so -> ")))
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        r = sh("dpkg", "-i", *debs, check=False, env=env)
        c.check("dpkg -i installs the three packages", r.returncode == 0 and all(installed(p) for p in PKGS),
                r.stdout[-1500:] + r.stderr[-1500:])
        c.check("the stopgate user and group exist", any(p.pw_name == "stopgate" for p in pwd.getpwall()) and
                grp.getgrnam("stopgate") is not None)
        c.eq("the secrets file is 0600", os.stat("/etc/stopgate/stopgate.env").st_mode & 0o777, 0o600)
        v = sh("pkg-config", "--modversion", "stopgate", check=False)
        c.eq("pkg-config finds the installed library", v.stdout.strip(), "0.1.0")
        m = sh("man", "-w", "stopgate-check", check=False)
        c.check("man stopgate-check finds the installed page", m.returncode == 0, m.stderr)
        sa = shutil.which("systemd-analyze")
        if sa:
            r = sh(sa, "verify", "/lib/systemd/system/stopgate.service", check=False)
            c.check("systemd-analyze verify accepts the installed unit",
                    r.returncode == 0 and not r.stderr.strip(), r.stdout + r.stderr)
        created_state = serve_like_the_unit(c, work)
        r = sh("dpkg", "--purge", *PKGS, check=False, env=env)
        c.check("dpkg --purge removes the packages", r.returncode == 0 and not any(installed(p) for p in PKGS),
                r.stdout[-1000:] + r.stderr[-1000:])
        c.check("the binary and the library are gone",
                not os.path.exists("/usr/bin/stopgate") and not glob.glob("/usr/lib/*/libstopgate.so*"))
        c.check("the consent records stay after a purge", os.path.exists(os.path.join(STATE, "data.mdb")))
    finally:
        for p in PKGS:
            if installed(p):
                subprocess.run(["dpkg", "--purge", *PKGS], capture_output=True)
                break
        subprocess.run(["deluser", "--quiet", GATEWAY], capture_output=True)
        if not user_before:
            subprocess.run(["deluser", "--quiet", "stopgate"], capture_output=True)
            subprocess.run(["delgroup", "--quiet", "stopgate"], capture_output=True)
        if os.path.exists(MARK) and (created_state or not installed("stopgate")):
            shutil.rmtree(STATE, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
        lock.close()


run("package", body)
