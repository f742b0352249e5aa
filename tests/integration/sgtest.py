# SPDX-License-Identifier: Apache-2.0
"""Shared helpers for the daemon integration tests (standard library only).

Starts the real `stopgate serve` (env STOPGATE_BIN) on a free loopback port
with a temporary data directory and the keyword set from env SG_KEYWORDS,
and talks plain HTTP to it. No mock of the store or of the HTTP layer.
"""
import atexit
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

BIN = os.environ.get("STOPGATE_BIN", "")
KEYWORDS = os.environ.get("SG_KEYWORDS", "")

# Used only when SG_KEYWORDS holds no *.kw file yet (the real set lives in
# keywords/): the least the tests need, in the keyword file format.
FALLBACK_KW = """\
# opt out
exact opt_out en.stop STOP
# opt in
exact opt_in en.start START
# help
exact help en.help HELP
# a stop word inside a longer text
probable opt_out en.probable-stop stop \\bstop\\b

program {brand}
reply opt_out {brand}: you are unsubscribed. No more messages will be sent.
reply help {brand}: help at {contact}. Reply STOP to opt out.
reply opt_in {brand}: you are subscribed. Reply STOP to opt out.
"""


class Cases:
    """Counts cases; `finish()` prints the summary line last and exits."""

    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0

    def check(self, what, cond, detail=""):
        if cond:
            self.passed += 1
            print(f"ok   {what}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL {what} {detail}", flush=True)
        return cond

    def eq(self, what, got, want):
        return self.check(what, got == want, f"got {got!r}, want {want!r}")

    def crash(self, exc):
        self.failed += 1
        print(f"FAIL {self.name}: exception {exc!r}", flush=True)
        traceback.print_exc()

    def finish(self):
        print(f"cases: {self.passed} passed, {self.failed} failed", flush=True)
        sys.exit(1 if self.failed or not self.passed else 0)


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def keywords_dir(tmp):
    if KEYWORDS and os.path.isdir(KEYWORDS) and any(f.endswith(".kw") for f in os.listdir(KEYWORDS)):
        return KEYWORDS
    d = os.path.join(tmp, "keywords")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "en.kw"), "w") as f:
        f.write(FALLBACK_KW)
    return d


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # dict, lower-case names
        self.body = body

    def json(self):
        return json.loads(self.body.decode())

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return f"<{self.status} {self.body[:200]!r}>"


_RUNNING = []


@atexit.register
def _stop_leftovers():
    for d in _RUNNING:
        if d.proc and d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait()


class Daemon:
    """One `stopgate serve` process."""

    def __init__(self, config=None, token=None, data=None, listen=None, args=(), env=None):
        if not BIN or not os.path.exists(BIN):
            raise RuntimeError("STOPGATE_BIN is not set to the stopgate executable")
        self.tmp = tempfile.mkdtemp(prefix="sg-it-")
        self.data = data or os.path.join(self.tmp, "data")
        self.kw = keywords_dir(self.tmp)
        self.port = free_port()
        self.host = "127.0.0.1"
        self.listen = listen or f"127.0.0.1:{self.port}"
        self.token = token
        self.config = config
        self.args = list(args)
        self.env = dict(os.environ)
        self.env.pop("STOPGATE_TOKEN", None)
        if token:
            self.env["STOPGATE_TOKEN"] = token
        if env:
            self.env.update(env)
        self.proc = None
        self.logpath = os.path.join(self.tmp, "daemon.log")
        self.owns_data = data is None

    def command(self):
        cmd = [BIN, "serve", "--data", self.data, "--listen", self.listen, "--keywords", self.kw]
        if self.config is not None:
            path = os.path.join(self.tmp, "config.json")
            with open(path, "w") as f:
                json.dump(self.config, f)
            cmd += ["--config", path]
        return cmd + self.args

    def start(self, wait=True):
        self.logfile = open(self.logpath, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=self.logfile, stderr=self.logfile,
                                     env=self.env)
        _RUNNING.append(self)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited with {self.proc.returncode}:\n{self.log()}")
            try:
                r = self.request("GET", "/healthz", timeout=2)
                if r.status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("daemon did not become ready:\n" + self.log())

    def log(self):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def kill(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Stop the daemon; returns its exit code (None if it had to be killed)."""
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def cleanup(self):
        self.stop()
        try:
            self.logfile.close()
        except Exception:
            pass
        keep = os.environ.get("SG_KEEP_LOGS")  # a directory to keep daemon logs in
        if keep and os.path.exists(self.logpath):
            os.makedirs(keep, exist_ok=True)
            shutil.copy(self.logpath, os.path.join(keep, f"{os.path.basename(self.tmp)}.log"))
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- HTTP ----

    def conn(self, timeout=10):
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def auth_headers(self, headers):
        h = dict(headers or {})
        if self.token and "Authorization" not in h:
            h["Authorization"] = f"Bearer {self.token}"
        return h

    def request(self, method, path, body=None, headers=None, json_body=None, conn=None, timeout=10):
        h = self.auth_headers(headers)
        if json_body is not None:
            body = json.dumps(json_body).encode()
            h.setdefault("Content-Type", "application/json")
        own = conn is None
        c = conn or self.conn(timeout)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
        finally:
            if own:
                c.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, obj, **kw):
        return self.request("POST", path, json_body=obj, **kw)

    def put(self, path, obj, **kw):
        return self.request("PUT", path, json_body=obj, **kw)

    def raw(self, timeout=10, family=socket.AF_INET):
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect((self.host, self.port))
        return s

    def cli(self, *args, timeout=30):
        """Run another stopgate command on the same data directory."""
        cmd = [BIN] + list(args)
        return subprocess.run(cmd, capture_output=True, timeout=timeout, env=self.env)


def q(s):
    """Percent-encode one query value."""
    from urllib.parse import quote
    return quote(s, safe="")


def read_response(sock, buf=b""):
    """Read one HTTP/1.1 response from a raw socket. Returns (Response, rest)."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError(f"connection closed before a full response (have {buf[:200]!r})")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if status == 100:
        return Response(status, headers, b""), rest
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            while b"\r\n" not in rest:
                chunk = sock.recv(65536)
                if not chunk:
                    raise EOFError("connection closed inside a chunked body")
                rest += chunk
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            while len(rest) < size + 2:
                chunk = sock.recv(65536)
                if not chunk:
                    raise EOFError("connection closed inside a chunk")
                rest += chunk
            body += rest[:size]
            rest = rest[size + 2:]
            if size == 0:
                break
        return Response(status, headers, body), rest
    n = int(headers.get("content-length", "0"))
    while len(rest) < n:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed inside a body")
        rest += chunk
    return Response(status, headers, rest[:n]), rest[n:]


def closed_by_peer(sock, timeout=5):
    """True when the peer closes the connection (EOF or reset) within timeout."""
    sock.settimeout(timeout)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def run(name, body):
    """Run body(cases) and always end with the summary line."""
    cases = Cases(name)
    try:
        body(cases)
    except Exception as e:  # noqa: BLE001 - reported as a failed case
        cases.crash(e)
    cases.finish()


class CaseFunctions:
    """For scripts whose cases are plain functions that assert: `@cases.case`
    runs each as it is defined (a failure is reported and the next runs);
    `cases.finish()` prints the summary line and exits."""

    def __init__(self):
        self.results = []

    def case(self, fn):
        try:
            fn()
            self.results.append(True)
            print(f"ok   {fn.__name__}", flush=True)
        except Exception as e:  # report and continue with the next case
            self.results.append(False)
            print(f"FAIL {fn.__name__}: {e!r}", flush=True)
        return fn

    def finish(self):
        r = self.results
        print(f"cases: {sum(r)} passed, {len(r) - sum(r)} failed")
        sys.exit(0 if r and all(r) else 1)
