# SPDX-License-Identifier: Apache-2.0
"""A full disk under `stopgate serve`: the data directory lives on a small
filesystem made for the test (an 8 MiB ext4 image on a loop device, else
a 4 MiB tmpfs; root only). A filler file takes the last free block, then:

- writes fail with 503 store_unavailable (+ Retry-After), never a 2xx for
  an event that is not durable, and nothing is half-written: afterwards
  the log holds exactly the events that were answered 2xx, the chain
  verifies, and the state agrees with the log;
- reads keep working: checks answer from the store, /healthz says 503
  (writable false) while commits fail;
- when the filler is deleted the daemon recovers by itself, without a
  restart: the next writes are answered 200 and /healthz is 200 again.

Skipped (exit 77, counted as skipped) when no small filesystem can be
mounted here (not root, no loop devices and no tmpfs mounts).
SG_FULLDISK_FS=tmpfs skips the ext4 image."""
import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sgtest import BIN, Daemon, q, run  # noqa: E402

OURS = "+14155550100"


def sh(*cmd):
    return subprocess.run(cmd, capture_output=True, timeout=60)


def mount_small(root):
    """Mount a small filesystem at root/mnt; returns (mountpoint, kind) or
    (None, reason)."""
    mnt = os.path.join(root, "mnt")
    os.makedirs(mnt)
    if os.geteuid() != 0:
        return None, "not root"
    img = os.path.join(root, "disk.img")
    if shutil.which("mkfs.ext4") and os.environ.get("SG_FULLDISK_FS", "ext4") == "ext4":
        with open(img, "wb") as f:
            f.truncate(8 << 20)
        if (sh("mkfs.ext4", "-q", "-F", "-m", "0", img).returncode == 0
                and sh("mount", "-o", "loop", img, mnt).returncode == 0):
            return mnt, "ext4 8 MiB (loop)"
        os.unlink(img)
    if sh("mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", mnt).returncode == 0:
        return mnt, "tmpfs 4 MiB"
    return None, "neither a loop-mounted ext4 image nor a tmpfs could be mounted"


def fill(path):
    """Write until the filesystem says ENOSPC; returns bytes written."""
    n = 0
    with open(path, "wb", buffering=0) as f:
        for size in (1 << 20, 64 << 10, 4096, 512, 1):
            chunk = b"\0" * size
            while True:
                try:
                    f.write(chunk)
                    n += size
                except OSError as e:
                    if e.errno not in (errno.ENOSPC, errno.EDQUOT):
                        raise
                    break
        try:
            os.fsync(f.fileno())
        except OSError:
            pass
    return n


def inbound(d, msg_id, handset):
    return d.post("/v1/inbound", {"id": msg_id, "provider": "disk", "from": handset, "to": OURS,
                                  "body": "STOP " + "x" * 300})


def test(c):
    root = tempfile.mkdtemp(prefix="sg-fulldisk-")
    mnt, kind = mount_small(root)
    if not mnt:
        shutil.rmtree(root, ignore_errors=True)
        print(f"SKIP: full-disk test needs a small mounted filesystem: {kind}", flush=True)
        sys.exit(77)
    print(f"note: data directory on {kind}", flush=True)
    d = Daemon(data=os.path.join(mnt, "data"))
    try:
        d.start()
        body(c, d, mnt)
    finally:
        if d.proc:
            d.stop()
        d.cleanup()
        sh("umount", mnt)
        shutil.rmtree(root, ignore_errors=True)


def body(c, d, mnt):
    acked, refused, i = [], [], 0
    for i in range(20):
        r = inbound(d, f"before-{i}", f"+1415551{i:04d}")
        (acked if r.status == 200 else refused).append((f"before-{i}", f"+1415551{i:04d}"))
    c.eq("before the disk fills: writes answered 200", len(acked), 20)

    filler = os.path.join(mnt, "filler")
    c.check("the disk is full", fill(filler) > 0 and os.statvfs(mnt).f_bavail == 0, os.statvfs(mnt).f_bavail)

    statuses = {}
    first_503 = None
    for i in range(600):
        msg, handset = f"full-{i}", f"+1415552{i:04d}"
        r = inbound(d, msg, handset)
        statuses[r.status] = statuses.get(r.status, 0) + 1
        if r.status == 200:
            acked.append((msg, handset))
        else:
            refused.append((msg, handset))
            if first_503 is None:
                first_503 = r
            if len(refused) >= 30:
                break
    c.check("disk full: writes are refused with 503 (after any that still fit in freed pages)",
            first_503 is not None and set(statuses) <= {200, 503}, statuses)
    if first_503 is not None:
        c.eq("disk full: 503 store_unavailable with Retry-After",
             (first_503.json()["error"], first_503.header("retry-after") is not None), ("store_unavailable", True))
    c.eq("disk full: the daemon is still running", d.proc.poll(), None)
    r = d.get("/healthz")
    c.check("disk full: /healthz 503, writable false", r.status == 503 and r.json()["writable"] is False, r)
    # A small write may still fit in blocks the failed commits allocated:
    # then it is durable and acknowledged, else refused like the others.
    r = d.post("/v1/consent", {"from": OURS, "to": "+14155553000", "action": "opt_out"})
    c.check("disk full: a consent change is 200 (durable) or 503", r.status in (200, 503), r)
    consent = ("consent", "+14155553000", r.status)

    # reads keep working
    msg, handset = acked[-1]
    r = d.get(f"/v1/check?from={q(OURS)}&to={q(handset)}")
    c.check("disk full: checks still answered from the store (an acknowledged STOP is a deny)",
            r.status == 200 and r.json()["reason"] == "opted_out", r)
    r = d.post("/v1/check", {"from": OURS, "to": [h for _, h in acked[:50]]})
    c.check("disk full: batch checks answered", r.status == 200 and
            all(x["reason"] == "opted_out" for x in r.json()["results"]), r)
    r = d.get("/v1/audit")
    c.eq("disk full: the audit log still streams", r.status, 200)

    # space returns: recovery without a restart
    os.unlink(filler)
    t0 = time.time()
    ok = False
    while time.time() - t0 < 10:
        msg = f"after-{int((time.time() - t0) * 1000)}"
        r = inbound(d, msg, "+14155554000")
        if r.status == 200:
            acked.append((msg, "+14155554000"))
            ok = True
            break
        time.sleep(0.2)
    c.check("space back: writes answered 200 again, same process", ok and d.proc.poll() is None, r)
    for i in range(20):
        r = inbound(d, f"after2-{i}", f"+1415555{i:04d}")
        if r.status == 200:
            acked.append((f"after2-{i}", f"+1415555{i:04d}"))
    c.eq("space back: /healthz 200 again", d.get("/healthz").status, 200)
    c.eq("clean exit", d.stop(), 0)

    # nothing half-written: the log holds exactly the acknowledged events
    p = subprocess.run([BIN, "verify", "--data", d.data], capture_output=True, timeout=60)
    c.check("stopgate verify: the chain is intact", p.returncode == 0, p.stdout + p.stderr)
    p = subprocess.run([BIN, "export", "audit", "--data", d.data], capture_output=True, timeout=60)
    events = [json.loads(ln) for ln in p.stdout.decode().splitlines() if ln]
    ids = {e["provider_msg_id"] for e in events if e.get("provider_msg_id")}
    want = {m for m, _ in acked}
    c.eq("every 2xx event is in the log", sorted(want - ids), [])
    c.eq("no refused (503) event is in the log", sorted(ids & {m for m, _ in refused}), [])
    c.eq("the consent change is in the log exactly when it was acknowledged",
         any(e.get("recipient") == consent[1] for e in events), consent[2] == 200)
    seqs = [e["seq"] for e in events]
    c.eq("sequence numbers are gap-free", seqs, list(range(1, len(seqs) + 1)))
    # the state agrees with the log
    bad = []
    for m, h in acked[::7] + refused[::7]:
        p = subprocess.run([BIN, "check", "--data", d.data, OURS, h], capture_output=True, timeout=30)
        want_code = 1 if (m, h) in acked else 0
        if p.returncode != want_code:
            bad.append((m, h, p.returncode))
    c.eq("state agrees: acknowledged STOPs deny, refused ones were never applied", bad, [])


run("test_fulldisk", test)
