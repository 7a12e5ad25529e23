"""Shared helpers for Satchel's integration tests (python3 stdlib only).

An Env is one test's world: a temporary directory (made traversable) with
an empty chroot directory owned by root, a passwd-file, Maildirs owned by
the mail user, a config file and, once start() is called, a satcheld
running in the foreground in its own process group with its stderr in
DIR/satcheld.log.  cleanup() stops the daemon by the pid in its pidfile,
SIGKILLs whatever is left in its process group, and removes the
directory.

Pop is a raw-socket POP3 client: send bytes, read one line, read a
multi-line answer (undoing nothing unless asked), with a timeout on
every read.
"""
import atexit
import grp
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

BUILDDIR = None          # set by run.py
WORKER_USER = "satchel"
MAIL_USER = "vmail"
DOMAIN = "test.example"
DEFAULT_PASSWORD = "s3cret-pw"


class Skip(Exception):
    """Raised by a test that cannot run here; the message says why."""


class Failure(AssertionError):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def eq(got, want, what=""):
    if got != want:
        raise Failure("%s: got %r, want %r" % (what or "value", got, want))


def wait_for(pred, timeout, interval=0.05, what="condition"):
    """Poll pred() until it returns a true value, at most timeout s."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise Failure("timed out after %.1f s waiting for %s"
                          % (timeout, what))
        time.sleep(interval)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


_crypt_cache = {}


def sha512_crypt(password):
    """{SHA512-CRYPT} hash made with openssl passwd -6 (cached)."""
    if password not in _crypt_cache:
        out = subprocess.run(["openssl", "passwd", "-6", "-stdin"],
                             input=password.encode(), capture_output=True,
                             timeout=20, check=True).stdout.decode().strip()
        check(out.startswith("$6$"), "openssl passwd -6 gave %r" % out)
        _crypt_cache[password] = out
    return _crypt_cache[password]


_popload = None


def popload():
    """The bench's C client (tests/bench/popload.c), built once per run:
    for load that a Python loop cannot make (sessions that come back at
    once)."""
    global _popload
    if _popload is None:
        here = os.path.dirname(os.path.abspath(__file__))
        src = os.path.join(here, "..", "bench", "popload.c")
        out = os.path.join(tempfile.gettempdir(),
                           "satchel-popload-%d" % os.getpid())
        subprocess.run(["cc", "-O2", "-o", out, src, "-lssl", "-lcrypto"],
                       check=True, timeout=120)
        atexit.register(lambda: os.path.exists(out) and os.unlink(out))
        _popload = out
    return _popload


def ensure_system_user(name):
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home",
                        "--shell", "/usr/sbin/nologin", name],
                       capture_output=True, timeout=30)
        try:
            return pwd.getpwnam(name)
        except KeyError:
            raise Skip("cannot create system user %s" % name)


def ensure_tool(cmd, package):
    """The path of cmd, installing package with apt-get if missing."""
    p = shutil.which(cmd)
    if p:
        return p
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    r = subprocess.run(["apt-get", "install", "-y", package],
                       capture_output=True, timeout=300, env=env)
    if r.returncode != 0:
        subprocess.run(["apt-get", "update"], capture_output=True,
                       timeout=300, env=env)
        r = subprocess.run(["apt-get", "install", "-y", package],
                           capture_output=True, timeout=300, env=env)
    p = shutil.which(cmd)
    if not p:
        raise Skip("%s not installed and 'apt-get install -y %s' failed: %s"
                   % (cmd, package, r.stderr.decode(errors="replace")[-200:]))
    return p


# ---- message forms ---------------------------------------------------

def _stuff(line):
    return b"." + line if line.startswith(b".") else line


def wire_lines(data):
    """Stored bytes -> list of wire lines (no CRLF, not dot-stuffed)."""
    parts = data.split(b"\n")
    last = parts.pop()
    lines = [p[:-1] if p.endswith(b"\r") else p for p in parts]
    if last:
        lines.append(last)
    return lines


def crlf(data):
    """RFC 1939 form of stored bytes, without dot-stuffing (the size)."""
    return b"".join(l + b"\r\n" for l in wire_lines(data))


def rfc_size(data):
    """The RFC 1939 size of stored bytes (LIST, STAT, "+OK n octets"):
    crlf()'s octets, less the CRLF RETR adds to a last line without one
    (as Dovecot and popa3d count)."""
    return len(crlf(data)) - (2 if data and not data.endswith(b"\n")
                              else 0)


def wire(data, top=None):
    """What RETR (top=None) or TOP n top sends after +OK, with '.'."""
    lines = wire_lines(data)
    if top is not None:
        try:
            blank = lines.index(b"")
        except ValueError:
            blank = len(lines)
        lines = lines[:blank + 1 + top]
    return b"".join(_stuff(l) + b"\r\n" for l in lines) + b".\r\n"


TRICKY = (b"From: me@test.example\n"
          b"To: alice@test.example\n"
          b"Subject: tricky\n"
          b"\n"
          b"first body line\n"
          b".\n"
          b"..\n"
          b".x\n"
          b"bare\rCR inside\n"
          b"From me\n"
          b"crlf line\r\n"
          b"last line without newline")


def simple_message(n, body=b"hello"):
    return (b"From: sender%d@test.example\n"
            b"To: someone@test.example\n"
            b"Subject: message %d\n"
            b"\n"
            b"%s %d\nline two\nline three\n" % (n, n, body, n))


# ---- the client ------------------------------------------------------

class Pop:
    def __init__(self, port, host="127.0.0.1", source=None, timeout=10,
                 greeting=True):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        if source:
            self.sock.bind((source, 0))
        self.sock.connect((host, port))
        self.buf = b""
        self.greeting = self.line() if greeting else None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed by server")
        self.buf += chunk

    def line(self):
        """One line with its CRLF removed; EOFError at end."""
        for _ in range(100000):
            i = self.buf.find(b"\r\n")
            if i >= 0:
                ln, self.buf = self.buf[:i], self.buf[i + 2:]
                return ln.decode("latin-1")
            self._fill()
        raise Failure("line too long from server")

    def raw_multiline(self, max_bytes=64 * 1024 * 1024):
        """Bytes of a multi-line body up to and including CRLF.CRLF."""
        for _ in range(1000000):
            if self.buf.startswith(b".\r\n"):
                out, self.buf = b".\r\n", self.buf[3:]
                return out
            i = self.buf.find(b"\r\n.\r\n")
            if i >= 0:
                out, self.buf = self.buf[:i + 5], self.buf[i + 5:]
                return out
            if len(self.buf) > max_bytes:
                raise Failure("multi-line answer too long")
            self._fill()
        raise Failure("multi-line answer never ended")

    def multiline_lines(self):
        body = self.raw_multiline()
        lines = body.split(b"\r\n")[:-2]
        return [l.decode("latin-1") for l in lines]

    def cmd(self, command):
        self.send(command + "\r\n")
        return self.line()

    def cmd_multi(self, command):
        """(status line, [lines]) -- lines only after +OK."""
        st = self.cmd(command)
        if not st.startswith("+OK"):
            return st, None
        return st, self.multiline_lines()

    def login(self, user, password=DEFAULT_PASSWORD):
        r = self.cmd("USER " + user)
        check(r.startswith("+OK"), "USER %s: %r" % (user, r))
        return self.cmd("PASS " + password)

    def closed(self, timeout=5):
        """True if the server closes the connection within timeout."""
        self.sock.settimeout(timeout)
        try:
            for _ in range(10000):
                if not self.sock.recv(65536):
                    return True
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            return True
        return False

    def drain_lines(self, timeout=5, limit=1000):
        """All lines until EOF (or timeout): the leftovers."""
        self.sock.settimeout(timeout)
        out = []
        try:
            for _ in range(limit):
                out.append(self.line())
        except (EOFError, socket.timeout, ConnectionResetError):
            pass
        return out


# ---- processes -------------------------------------------------------

def proc_cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(
                "latin-1", "replace").strip()
    except OSError:
        return None


def proc_stat(pid):
    """(ppid, pgid, state) or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rfind(")") + 2:].split()
    return int(rest[1]), int(rest[2]), rest[0]


def alive(pid):
    st = proc_stat(pid)
    return st is not None and st[2] != "Z"


def pids_in_group(pgid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = proc_stat(int(d))
            if st and st[1] == pgid and st[2] != "Z":
                out.append(int(d))
    return out


# ---- the environment -------------------------------------------------

class Env:
    def __init__(self, builddir=None):
        self.builddir = os.path.abspath(builddir or BUILDDIR)
        self.satcheld = os.path.join(self.builddir, "satcheld")
        self.module_dir = os.path.join(self.builddir, ".libs")
        self.mail_pw = ensure_system_user(MAIL_USER)
        ensure_system_user(WORKER_USER)
        self.dir = tempfile.mkdtemp(prefix="satchel-it-")
        os.chmod(self.dir, 0o755)
        self.empty = os.path.join(self.dir, "empty")
        os.mkdir(self.empty, 0o755)
        os.chmod(self.empty, 0o755)
        self.mail = os.path.join(self.dir, "mail")
        os.mkdir(self.mail, 0o755)
        os.chown(self.mail, self.mail_pw.pw_uid, self.mail_pw.pw_gid)
        self.users_path = os.path.join(self.dir, "users")
        self.conf_path = os.path.join(self.dir, "satchel.conf")
        self.pidfile = os.path.join(self.dir, "satcheld.pid")
        self.log_path = os.path.join(self.dir, "satcheld.log")
        self.users = {}
        self.proc = None
        self.pid = None
        self.port = None
        self.logf = None
        self.conf = {}

    # users and mail

    def maildir(self, user):
        local, domain = user.split("@", 1)
        return os.path.join(self.mail, domain, local)

    def add_user(self, local, password=DEFAULT_PASSWORD, messages=(),
                 plain=False):
        """Add local@DOMAIN with a Maildir holding messages.  messages:
        bytes (to cur/) or (sub, name, bytes).  Returns the full name."""
        user = "%s@%s" % (local, DOMAIN)
        pw = ("{PLAIN}" + password) if plain else \
            ("{SHA512-CRYPT}" + sha512_crypt(password))
        md = self.maildir(user)
        self.users[user] = (pw, md)
        uid, gid = self.mail_pw.pw_uid, self.mail_pw.pw_gid
        dom = os.path.dirname(md)
        if not os.path.isdir(dom):
            os.mkdir(dom, 0o755)
            os.chown(dom, uid, gid)
        os.mkdir(md, 0o700)
        for sub in ("cur", "new", "tmp"):
            os.mkdir(os.path.join(md, sub), 0o700)
            os.chown(os.path.join(md, sub), uid, gid)
        os.chown(md, uid, gid)
        for i, m in enumerate(messages):
            if isinstance(m, bytes):
                m = ("cur", "%d.M%dP%d.satchel-test:2," % (
                    1700000000 + i, i + 1, 1000 + i), m)
            self.put_message(user, *m)
        self.write_users()
        return user

    def put_message(self, user, sub, name, data):
        p = os.path.join(self.maildir(user), sub, name)
        with open(p, "wb") as f:
            f.write(data)
        os.chown(p, self.mail_pw.pw_uid, self.mail_pw.pw_gid)
        os.chmod(p, 0o600)
        return p

    def files(self, user, sub=None):
        """Sorted message file names (sub/name) in the Maildir."""
        out = []
        for s in ((sub,) if sub else ("new", "cur")):
            d = os.path.join(self.maildir(user), s)
            out += ["%s/%s" % (s, n) for n in os.listdir(d)]
        return sorted(out)

    def contents(self, user):
        out = []
        for f in self.files(user):
            with open(os.path.join(self.maildir(user), f), "rb") as fp:
                out.append(fp.read())
        return sorted(out)

    def write_users(self):
        uid, gid = self.mail_pw.pw_uid, self.mail_pw.pw_gid
        tmp = self.users_path + ".tmp"
        with open(tmp, "w") as f:
            for user, (pw, md) in self.users.items():
                f.write("%s:%s:%d:%d::%s::\n" % (user, pw, uid, gid, md))
        os.chmod(tmp, 0o640)
        os.rename(tmp, self.users_path)

    # config

    def config_text(self, **over):
        c = {
            "listen": "127.0.0.1:%d" % self.port,
            "worker_user": WORKER_USER,
            "chroot": self.empty,
            "auth": "file",
            "module_dir": self.module_dir,
            "mail_location": "maildir:%s/%%d/%%n" % self.mail,
            "pidfile": self.pidfile,
            "first_valid_uid": "100",
            "workers_min_spare": "2",
            "login_fail_delay_ms": "100",
            "shutdown_timeout": "5",
        }
        c.update({k: str(v) for k, v in over.items() if v is not None})
        for k in [k for k, v in over.items() if v is None]:
            c.pop(k, None)
        lines = ["# written by tests/integration/satchel.py"]
        lines += ["%s = %s" % (k, v) for k, v in c.items()]
        lines += ["", "[file]", "path = %s" % self.users_path, ""]
        return "\n".join(lines)

    def write_config(self, path=None, text=None, **over):
        if self.port is None:
            self.port = free_port()
        self.conf.update(over)
        with open(path or self.conf_path, "w") as f:
            f.write(text if text is not None else
                    self.config_text(**self.conf))
        return path or self.conf_path

    # the daemon

    def start(self, **over):
        if not os.access(self.satcheld, os.X_OK):
            raise Failure("no satcheld at %s" % self.satcheld)
        if not self.users:
            self.add_user("alice", messages=[simple_message(1)])
        self.write_config(**over)
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [self.satcheld, "-F", "-c", self.conf_path],
            stdin=subprocess.DEVNULL, stdout=self.logf, stderr=self.logf,
            start_new_session=True, cwd=self.dir)
        self.pid = self.proc.pid
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                raise Failure("satcheld exited with %s at start; log:\n%s"
                              % (self.proc.returncode, self.log()[-2000:]))
            try:
                s = socket.create_connection(("127.0.0.1", self.port), 0.5)
                s.close()
                break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise Failure("satcheld not listening after 10 s; log:\n%s"
                              % self.log()[-2000:])
            time.sleep(0.05)
        # That probe was a session too: let the pool settle, every worker
        # idle (the probe's one too) and at least min_spare of them: the
        # probe's worker went busy, so the master may have started one
        # more (max_spare allows it).
        self.wait_idle(int(self.conf.get("workers_min_spare", 2)), 5,
                       at_least=True)
        return self

    def master_pid(self):
        try:
            with open(self.pidfile) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def signal(self, sig):
        pid = self.master_pid()
        check(pid == self.pid, "pidfile holds %r, daemon is %r"
              % (pid, self.pid))
        os.kill(pid, sig)

    def stop(self, timeout=None):
        """SIGTERM by the pidfile's pid; wait.  Returns seconds taken."""
        if self.proc is None:
            return 0.0
        t0 = time.monotonic()
        if self.proc.poll() is None:
            pid = self.master_pid() or self.pid
            if pid == self.pid:
                os.kill(pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout or 15)
            except subprocess.TimeoutExpired:
                pass
        return time.monotonic() - t0

    def cleanup(self):
        try:
            if self.proc is not None:
                self.stop(10)
                if self.proc.poll() is None:
                    self.proc.kill()
                    self.proc.wait(5)
                # leftovers: workers, auth processes, agents
                for _ in range(50):
                    if not pids_in_group(self.pid):
                        break
                    try:
                        os.killpg(self.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        break
                    time.sleep(0.05)
        finally:
            if self.logf:
                self.logf.close()
            shutil.rmtree(self.dir, ignore_errors=True)

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("latin-1")
        except OSError:
            return ""

    def wait_log(self, pattern, timeout=5, start=0):
        """The first match of regex pattern in the log after offset."""
        rx = re.compile(pattern)
        return wait_for(lambda: rx.search(self.log(), start), timeout,
                        what="log line /%s/" % pattern)

    def children(self):
        """{pid: cmdline} of the master's children."""
        out = {}
        for d in os.listdir("/proc"):
            if d.isdigit():
                st = proc_stat(int(d))
                if st and st[0] == self.pid and st[2] != "Z":
                    c = proc_cmdline(int(d))
                    if c is not None:
                        out[int(d)] = c
        return out

    def idle_workers(self):
        return sorted(p for p, c in self.children().items()
                      if c.startswith("satcheld: worker (idle)"))

    def wait_idle(self, n, timeout=5, at_least=False):
        def ok():
            k = len(self.idle_workers())
            if not at_least:
                return k == n
            busy = [c for c in self.children().values()
                    if c.startswith("satcheld: worker") and
                    not c.startswith("satcheld: worker (idle)")]
            return k >= n and not busy
        try:
            return wait_for(ok, timeout, what="%s%d idle workers" % (
                "at least " if at_least else "", n))
        except Failure as e:
            raise Failure("%s (have %r)" % (e, self.children()))

    def group_procs(self, prefix):
        """pids in the daemon's process group whose title starts so."""
        return sorted(p for p in pids_in_group(self.pid)
                      if (proc_cmdline(p) or "").startswith(prefix))

    def client(self, **kw):
        return Pop(self.port, **kw)

    def session(self, user, password=DEFAULT_PASSWORD, **kw):
        """A logged-in Pop (asserts +OK)."""
        p = Pop(self.port, **kw)
        r = p.login(user, password)
        if not r.startswith("+OK"):
            p.close()
            raise Failure("login %s: %r" % (user, r))
        return p


# ---- logins shared by the scenario files -----------------------------

def try_login(env, user, password, source=None, timeout=10):
    """The reply to PASS (or to USER if that already fails); after a good
    PASS, "+OK ... | <STAT reply>" and the session is QUIT."""
    with env.client(source=source, timeout=timeout) as p:
        r = p.cmd("USER " + user)
        if not r.startswith("+OK"):
            return r
        r = p.cmd("PASS " + password)
        if r.startswith("+OK"):
            st = p.cmd("STAT")
            p.cmd("QUIT")
            return r + " | " + st
        return r


def assert_login_ok(env, user, password=DEFAULT_PASSWORD, messages=None,
                    source=None):
    r = try_login(env, user, password, source)
    check(r.startswith("+OK"), "login %s should work: %r" % (user, r))
    if messages is not None:
        check(" | +OK %d " % messages in r, "STAT for %s: %r" % (user, r))
    return r


def assert_login_refused(env, user, password=DEFAULT_PASSWORD, source=None):
    r = try_login(env, user, password, source)
    check(r.startswith("-ERR"), "login %r should fail: %r" % (user, r))
    check("[SYS/TEMP]" not in r, "a refusal, not a temporary failure: %r"
          % r)
    return r


def relogin(env, user, what="login again"):
    """A logged-in Pop for user, waiting (at most 5 s) for a session lock
    that is still being released; any answer but [IN-USE] fails."""
    def attempt():
        q = env.client()
        r = q.login(user)
        if r.startswith("+OK"):
            return q
        q.close()
        check("[IN-USE]" in r, "%s: %r" % (what, r))
        return None
    return wait_for(attempt, 5, 0.1, "the mailbox to be unlocked")

