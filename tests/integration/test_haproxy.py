"""Satchel behind Debian's real HAProxy (issue 14, parts 1 and 3).

Each test starts two or three satcheld instances, each with its own run
directory (config, pidfile, log) and a listener marked haproxy on its own
loopback address (127.0.0.21, .22, .23), all sharing ONE Maildir tree
(the first instance's) and ONE MariaDB (test_mysql's shared server, the
TESTING.md recipe), then haproxy -db in front of them on 127.0.0.1 with
send-proxy-v2 (send-proxy for the v1 frontend) and a POP3 health check
(tcp-check expecting +OK, sent with the PROXY header as HAProxy does for
send-proxy servers).  Clients bind 127.0.0.9 (or .10), which is not in
trusted_networks, so the logs, the plaintext policy, the per-IP limit
and the tarpit show whose address each instance believed.  The configs
written here are the ones doc/SCALING quotes.

Everything is stopped by its pid: haproxy, each satcheld, and (at exit)
the shared mariadbd.
"""
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time

import satchel as S
from satchel import check, eq, wait_for
import test_mysql as M

CLIENT = "127.0.0.9"
OTHER_CLIENT = "127.0.0.10"
PROXY_SRC = "127.0.0.1"          # haproxy's source address to backends


def _need_haproxy():
    if shutil.which("haproxy") is None:
        S.ensure_tool("haproxy", "haproxy")
    if shutil.which("haproxy") is None:
        raise S.Skip("haproxy not installed")


class Cluster:
    """n satcheld instances on one Maildir tree and one MariaDB, and an
    haproxy in front."""

    def __init__(self, env, n=3, tls_port=False, **over):
        _need_haproxy()
        M.need_mysql(env)
        self.db = M.shared_db()
        M.clear_users(env, [self.db])
        self.envs = [env] + [S.Env() for _ in range(n - 1)]
        self.hports = [S.free_port() for _ in range(n)]
        self.addrs = ["127.0.0.%d" % (21 + i) for i in range(n)]
        self.haproxy = None
        self.hdir = env.dir
        self.over = over
        self.fports = {}
        # instance 0 also gets "listen = ADDR:PORT tls haproxy"
        self.tport = S.free_port() if tls_port else None

    # ---- users, on the shared tree ---------------------------------

    def add_user(self, local, messages=()):
        return M.add_mysql_user(self.envs[0], [self.db], local,
                                messages=list(messages))

    # ---- the instances ---------------------------------------------

    def conf(self, i):
        e = self.envs[i]
        if e.port is None:
            e.port = S.free_port()
        c = {
            # a direct listener for the harness's start-up probe, and
            # the one HAProxy uses
            "listen": "127.0.0.1:%d\nlisten = %s:%d haproxy"
                      % (e.port, self.addrs[i], self.hports[i]),
            "haproxy_trusted_networks": PROXY_SRC + "/32",
            "trusted_networks": "127.0.0.1/32",
            "disable_plaintext_auth": "no",
            "timeout_login": "10",
        }
        if i == 0 and self.tport:
            c["listen"] += "\nlisten = %s:%d tls haproxy" % (self.addrs[0],
                                                           self.tport)
        c.update(self.over)
        return c

    def start(self):
        section = M.mysql_section(self.envs[0], self.db)
        for i, e in enumerate(self.envs):
            if i > 0:
                # The shared tree: every instance's Maildirs are the
                # first one's (the query names them).
                e.users = {"placeholder@x": ("x", "/nonexistent")}
            M.start_mysql(e, "mysql", section, **self.conf(i))
        return self

    def log(self, i):
        return self.envs[i].log()

    def kill(self, i):
        """kill -9 of instance i: its master and every child at once."""
        e = self.envs[i]
        os.killpg(e.pid, signal.SIGKILL)
        e.proc.wait(10)
        wait_for(lambda: not S.pids_in_group(e.pid), 10,
                 what="instance %d gone" % i)

    # ---- haproxy ----------------------------------------------------

    def haproxy_config(self, ssl_pem=None):
        n = len(self.envs)
        for name in ("rr", "v1", "ssl") + tuple("only%d" % i
                                                 for i in range(n)):
            self.fports.setdefault(name, S.free_port())
        sock = os.path.join(self.hdir, "haproxy.sock")
        lines = [
            "global",
            "    stats socket %s mode 600 level admin" % sock,
            "defaults",
            "    mode tcp",
            "    timeout connect 2s",
            "    timeout client 60s",
            "    timeout server 60s",
            "    timeout check 2s",
            "    retries 3",
            "    option redispatch",
            "",
            "frontend pop3",
            "    bind 127.0.0.1:%d" % self.fports["rr"],
            "    default_backend satchel",
            "",
            "backend satchel",
            "    balance roundrobin",
            "    option tcp-check",
            "    tcp-check expect string +OK",
            "    tcp-check send QUIT\\r\\n",
            "    tcp-check expect string +OK",
            "    default-server send-proxy-v2 check inter 500ms "
            "fall 2 rise 1 source %s" % PROXY_SRC,
        ]
        lines += ["    server s%d %s:%d" % (i, self.addrs[i], self.hports[i])
                  for i in range(n)]
        # One frontend per instance, to reach a given one on purpose.
        for i in range(n):
            lines += ["", "frontend only%d" % i,
                      "    bind 127.0.0.1:%d" % self.fports["only%d" % i],
                      "    default_backend only%d" % i,
                      "backend only%d" % i,
                      "    server s%d %s:%d send-proxy-v2 source %s"
                      % (i, self.addrs[i], self.hports[i], PROXY_SRC)]
        # PROXY v1 to instance 0.
        lines += ["", "frontend pop3v1",
                  "    bind 127.0.0.1:%d" % self.fports["v1"],
                  "    default_backend satchel_v1",
                  "backend satchel_v1",
                  "    server s0 %s:%d send-proxy source %s"
                  % (self.addrs[0], self.hports[0], PROXY_SRC)]
        if self.tport:
            # TLS passed through: the header, then Satchel's handshake.
            self.fports.setdefault("pass", S.free_port())
            lines += ["", "frontend pop3s_pass",
                      "    bind 127.0.0.1:%d" % self.fports["pass"],
                      "    default_backend satchel_tls",
                      "backend satchel_tls",
                      "    server s0 %s:%d send-proxy-v2 source %s"
                      % (self.addrs[0], self.tport, PROXY_SRC)]
        if ssl_pem:
            # HAProxy does TLS and says so in the v2 SSL TLV.
            lines += ["", "frontend pop3s",
                      "    bind 127.0.0.1:%d ssl crt %s"
                      % (self.fports["ssl"], ssl_pem),
                      "    default_backend satchel_ssl",
                      "backend satchel_ssl",
                      "    server s0 %s:%d send-proxy-v2-ssl source %s"
                      % (self.addrs[0], self.hports[0], PROXY_SRC)]
        return "\n".join(lines) + "\n"

    def start_haproxy(self, ssl_pem=None):
        path = os.path.join(self.hdir, "haproxy.cfg")
        with open(path, "w") as f:
            f.write(self.haproxy_config(ssl_pem))
        r = subprocess.run(["haproxy", "-c", "-f", path],
                           capture_output=True, timeout=30)
        eq(r.returncode, 0, "haproxy -c: %r" % r.stderr[-800:])
        self.hlog = open(os.path.join(self.hdir, "haproxy.log"), "wb")
        self.haproxy = subprocess.Popen(
            ["haproxy", "-db", "-f", path], stdin=subprocess.DEVNULL,
            stdout=self.hlog, stderr=self.hlog, start_new_session=True)
        self.wait_up(len(self.envs))
        return self

    def stat(self):
        """{server: status} of backend satchel, from the stats socket."""
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(5)
        try:
            s.connect(os.path.join(self.hdir, "haproxy.sock"))
            s.sendall(b"show stat\n")
            data = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                data += b
        except OSError:
            return {}
        finally:
            s.close()
        out = {}
        for line in data.decode(errors="replace").splitlines():
            f = line.split(",")
            if len(f) > 17 and f[0] == "satchel" and f[1].startswith("s"):
                out[f[1]] = f[17]
        return out

    def wait_up(self, n, timeout=20):
        wait_for(lambda: list(self.stat().values()).count("UP") == n,
                 timeout, 0.1, "%d servers UP in haproxy (%r)"
                 % (n, self.stat()))

    def client(self, frontend="rr", source=CLIENT, **kw):
        return S.Pop(self.fports[frontend], source=source, **kw)

    def stop(self):
        if self.haproxy is not None and self.haproxy.poll() is None:
            os.kill(self.haproxy.pid, signal.SIGTERM)
            try:
                self.haproxy.wait(10)
            except subprocess.TimeoutExpired:
                self.haproxy.kill()
                self.haproxy.wait(5)
        for e in self.envs[1:]:
            e.cleanup()


def _cluster(env, n=3, ssl_pem=None, tls_port=False, **over):
    c = Cluster(env, n, tls_port, **over)
    try:
        c.start()
        c.start_haproxy(ssl_pem)
    except BaseException:
        c.stop()
        raise
    return c


def _login(p, user, password=S.DEFAULT_PASSWORD):
    return p.login(user, password)


def _client_port(p):
    return p.sock.getsockname()[1]


def _served_by(c, port, timeout=5):
    """The instance whose log shows a session from CLIENT:port."""
    rx = re.compile(r"event=connect addr=%s port=%d " % (re.escape(CLIENT),
                                                       port))

    def find():
        for i in range(len(c.envs)):
            if rx.search(c.log(i)):
                return i + 1
        return None
    return wait_for(find, timeout, what="the session of port %d" % port) - 1


# ---- tests -----------------------------------------------------------

def test_haproxy_real_address_everywhere(env):
    """Through HAProxy (send-proxy-v2, round robin over three instances
    on one Maildir tree and one MariaDB): every instance logs the
    client's address 127.0.0.9, never the proxy's; the health checks
    (POP3, +OK, with the PROXY header) keep all three UP; a failed
    login is counted by the auth pool for 127.0.0.9."""
    c = _cluster(env)
    try:
        user = c.add_user("hpalice", messages=[S.simple_message(1),
                                               S.simple_message(2)])
        seen = set()
        for _ in range(6):
            with c.client() as p:
                r = _login(p, user)
                check(r.startswith("+OK"), "login via haproxy: %r" % r)
                eq(p.cmd("STAT").split()[:2], ["+OK", "2"], "STAT")
                port = _client_port(p)
                p.cmd("QUIT")
            seen.add(_served_by(c, port))
        eq(seen, {0, 1, 2}, "instances that served the six logins")
        for i in range(3):
            log = c.log(i)
            check(re.search(r"event=auth user=%s .*addr=%s\b"
                            % (re.escape(user), re.escape(CLIENT)), log),
                  "instance %d: no event=auth with addr=%s" % (i, CLIENT))
            check(re.search(r"event=connect addr=%s port=\d+ listener=%s:%d "
                            r"tls=no proxy=%s proxy_version=2"
                            % (re.escape(CLIENT), c.addrs[i], c.hports[i],
                               PROXY_SRC), log),
                  "instance %d: connect line" % i)
            # No session through the haproxy listener is logged with the
            # proxy's address except the health checks (LOCAL).
            for m in re.finditer(r"event=connect addr=(\S+) port=\d+ "
                                 r"listener=%s:%d [^\n]*" %
                                 (c.addrs[i], c.hports[i]), log):
                check(m.group(1) == CLIENT or (m.group(1) == PROXY_SRC and
                      "proxy_local=yes" in m.group(0)),
                      "unexpected address: %r" % m.group(0))
            # HAProxy's checks come as v2 LOCAL: served with the
            # proxy's own address.
            check(re.search(r"addr=%s port=\d+ listener=%s:%d tls=no "
                            r"proxy=%s proxy_version=2 proxy_local=yes"
                            % (PROXY_SRC, c.addrs[i], c.hports[i],
                               PROXY_SRC), log),
                  "instance %d: health checks arrive as v2 LOCAL" % i)
            check("event=proxy sender" not in log,
                  "instance %d refused a header: %s" % (i, log[-1500:]))
        # The tarpit's view: a wrong password counted for the client.
        with c.client("only1") as p:
            r = _login(p, user, "wrong-password")
            check(r.startswith("-ERR"), "wrong password: %r" % r)
        wait_for(lambda: re.search(r"event=auth-check user=%s addr=%s "
                                   r"mech=pass result=fail"
                                   % (re.escape(user), re.escape(CLIENT)),
                                   c.log(1)), 10,
                 what="auth-check with addr=%s" % CLIENT)
        check(not re.search(r"event=auth-check [^\n]*addr=%s"
                            % re.escape(PROXY_SRC), c.log(1)),
              "the pool counted a failure for the proxy's address")
    finally:
        c.stop()


def test_haproxy_in_use_across_instances(env):
    """One user through instance 0 and instance 1 at once: the second
    login gets [IN-USE] from the fcntl session lock on the shared
    Maildir; after the first QUITs, instance 1 serves it."""
    c = _cluster(env, 2)
    try:
        user = c.add_user("hpbob", messages=[S.simple_message(1)])
        with c.client("only0") as p:
            eq(_login(p, user)[:3], "+OK", "first login via instance 0")
            with c.client("only1") as q:
                r = _login(q, user)
                check(r.startswith("-ERR [IN-USE]"),
                      "second login via instance 1: %r" % r)
            check(os.path.exists(os.path.join(
                c.envs[0].maildir(user), ".satchel.lock")),
                "the session lock file is in the shared Maildir")
            p.cmd("QUIT")
        # Released: now instance 1 takes it.
        deadline = time.monotonic() + 5
        while True:
            with c.client("only1") as q:
                r = _login(q, user)
                if r.startswith("+OK") or time.monotonic() > deadline:
                    break
            time.sleep(0.1)
        check(r.startswith("+OK"), "login via instance 1 after QUIT: %r" % r)
        check(re.search(r"event=auth user=%s [^\n]*addr=%s"
                        % (re.escape(user), re.escape(CLIENT)), c.log(1)),
              "instance 1 logged the login")
    finally:
        c.stop()


def test_haproxy_kill9_instance(env):
    """kill -9 of the instance that holds a session (after a DELE, before
    QUIT): HAProxy marks it DOWN, new logins go to the others, the
    mailbox is complete (the DELE was never committed) and its lock is
    free again."""
    c = _cluster(env, 3)
    try:
        user = c.add_user("hpcarol", messages=[S.simple_message(i)
                                               for i in range(1, 4)])
        before = c.envs[0].contents(user)
        eq(len(before), 3, "messages stored")
        p = c.client()
        eq(_login(p, user)[:3], "+OK", "login")
        eq(p.cmd("DELE 1")[:3], "+OK", "DELE 1")
        victim = _served_by(c, _client_port(p))
        c.kill(victim)
        p.close()
        c.wait_up(2)
        survivors = set(range(3)) - {victim}
        served = set()
        for _ in range(4):
            with c.client() as q:
                r = _login(q, user)
                check(r.startswith("+OK"), "login after the kill: %r" % r)
                eq(q.cmd("STAT").split()[:2], ["+OK", "3"],
                   "nothing lost, nothing deleted")
                port = _client_port(q)
                q.cmd("QUIT")
            served.add(_served_by(c, port))
        check(served <= survivors and served,
              "logins after the kill served by %r, survivors %r"
              % (served, survivors))
        eq(c.envs[0].contents(user), before, "message files")
    finally:
        c.stop()


def test_haproxy_proxy_v1(env):
    """send-proxy (v1 text header) works the same: the real address,
    proxy_version=1."""
    c = _cluster(env, 1)
    try:
        user = c.add_user("hpdave", messages=[S.simple_message(1)])
        with c.client("v1") as p:
            r = _login(p, user)
            check(r.startswith("+OK"), "login via v1: %r" % r)
            port = _client_port(p)
            p.cmd("QUIT")
        check(re.search(r"event=connect addr=%s port=%d listener=%s:%d "
                        r"tls=no proxy=%s proxy_version=1\n"
                        % (re.escape(CLIENT), port, c.addrs[0],
                           c.hports[0], PROXY_SRC), c.log(0)),
              "v1 connect line: %s" % c.log(0)[-1500:])
    finally:
        c.stop()


def _raw(addr, port, data, source, timeout=5):
    """Send data, return what comes back until the server closes."""
    s = socket.socket()
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect((addr, port))
    out = b""
    try:
        s.sendall(data)
        while True:
            b = s.recv(4096)
            if not b:
                break
            out += b
    except OSError:
        pass
    finally:
        s.close()
    return out


def test_haproxy_untrusted_and_bad_headers(env):
    """A valid header from a sender outside haproxy_trusted_networks is
    refused before a byte is answered; so are a malformed header and no
    header at all from the trusted proxy; each with a log line naming
    the sender and the reason.  The instance keeps serving."""
    c = _cluster(env, 1, timeout_login="2")
    try:
        user = c.add_user("hperin", messages=[S.simple_message(1)])
        a, port = c.addrs[0], c.hports[0]
        hdr = b"PROXY TCP4 127.0.0.9 %s 5555 110\r\n" % a.encode()
        eq(_raw(a, port, hdr + b"USER x\r\n", "127.0.0.5"), b"",
           "reply to an untrusted sender")
        c.envs[0].wait_log(r"event=proxy sender=127\.0\.0\.5 listener=%s:%d "
                           r"result=refused reason=\"sender not in "
                           r"haproxy_trusted_networks\"" % (re.escape(a),
                                                             port))
        eq(_raw(a, port, b"USER alice\r\n", PROXY_SRC), b"",
           "reply to a missing header")
        c.envs[0].wait_log(r"event=proxy sender=127\.0\.0\.1 [^\n]*"
                           r"reason=\"not a PROXY protocol header\"")
        eq(_raw(a, port, b"PROXY TCP4 127.0.0.9 1.2.3.256 1 1\r\n",
                PROXY_SRC), b"", "reply to a bad header")
        c.envs[0].wait_log(r"reason=\"v1: bad TCP4 destination address\"")
        t0 = time.monotonic()
        eq(_raw(a, port, b"PROXY TCP4 127.0.0.9", PROXY_SRC, timeout=10),
           b"", "reply to a header cut short")
        took = time.monotonic() - t0
        check(1.5 < took < 6, "closed after timeout_login (2 s), took %.1f s"
              % took)
        c.envs[0].wait_log(r"reason=\"PROXY header incomplete at "
                           r"timeout_login\"")
        check("addr=127.0.0.9" not in c.log(0),
              "no session was served for the claimed address")
        # A v2 LOCAL header (what HAProxy's checks send) from the proxy:
        # served, and even a login works, with the proxy's address.
        p = S.Pop(port, host=a, source=PROXY_SRC, greeting=False)
        try:
            p.send(b"\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00")
            check(p.line().startswith("+OK"), "banner after LOCAL")
            check(_login(p, user).startswith("+OK"), "login after LOCAL")
            p.cmd("QUIT")
        finally:
            p.close()
        c.envs[0].wait_log(r"event=auth user=%s [^\n]*addr=%s"
                           % (re.escape(user), re.escape(PROXY_SRC)))
        with c.client("only0") as p:
            check(_login(p, user).startswith("+OK"), "still serving")
            p.cmd("QUIT")
    finally:
        c.stop()


def _cert(env):
    cert = os.path.join(env.dir, "hp.crt")
    key = os.path.join(env.dir, "hp.key")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                        "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                        "-days", "2", "-keyout", key, "-out", cert,
                        "-subj", "/CN=pop.test.example"],
                       capture_output=True, timeout=30)
    eq(r.returncode, 0, "openssl req: %r" % r.stderr[-300:])
    os.chmod(key, 0o600)
    pem = os.path.join(env.dir, "hp.pem")
    with open(pem, "w") as f:
        f.write(open(cert).read() + open(key).read())
    os.chmod(pem, 0o600)
    return cert, key, pem


def _tls_client(port, source):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = socket.socket()
    raw.settimeout(10)
    raw.bind((source, 0))
    raw.connect(("127.0.0.1", port))
    p = S.Pop.__new__(S.Pop)
    p.sock = ctx.wrap_socket(raw)
    p.buf = b""
    p.greeting = p.line()
    return p


def _capa(p):
    eq(p.cmd("CAPA")[:3], "+OK", "CAPA")
    return p.multiline_lines()


def test_haproxy_plaintext_policy(env):
    """disable_plaintext_auth = yes with the proxy's address trusted: a
    client from 127.0.0.9 through HAProxy is NOT trusted (no USER in
    CAPA, PASS refused), while the same client through HAProxy's TLS
    frontend (send-proxy-v2-ssl: the SSL TLV) logs in with plaintext,
    is not offered STLS, and is logged tls=proxy."""
    cert, key, pem = _cert(env)
    c = _cluster(env, 1, ssl_pem=pem, disable_plaintext_auth="yes",
                 tls_cert=cert, tls_key=key)
    try:
        user = c.add_user("hpfrank", messages=[S.simple_message(1)])
        with c.client("only0") as p:
            caps = _capa(p)
            check("USER" not in caps and "STLS" in caps,
                  "CAPA via plain proxy: %r" % caps)
            r = p.cmd("USER " + user)
            if r.startswith("+OK"):
                r = p.cmd("PASS " + S.DEFAULT_PASSWORD)
            check(r.startswith("-ERR [AUTH] Plaintext"),
                  "plaintext login of an untrusted client via the "
                  "trusted proxy: %r" % r)
        p = _tls_client(c.fports["ssl"], CLIENT)
        try:
            caps = _capa(p)
            check("USER" in caps and "STLS" not in caps,
                  "CAPA via HAProxy's TLS: %r" % caps)
            r = _login(p, user)
            check(r.startswith("+OK"), "login via HAProxy's TLS: %r" % r)
            port = p.sock.getsockname()[1]
            p.cmd("QUIT")
        finally:
            p.close()
        check(re.search(r"event=connect addr=%s port=%d [^\n]*tls=proxy "
                        r"proxy=%s proxy_version=2 proxy_tls=TLSv1\.[23]"
                        % (re.escape(CLIENT), port, PROXY_SRC), c.log(0)),
              "connect line of the TLS session: %s" % c.log(0)[-1500:])
    finally:
        c.stop()


def test_haproxy_per_ip_limit(env):
    """max_connections_per_ip = 2 counts real addresses: two sessions
    of 127.0.0.9 through HAProxy fill its quota, a third is refused,
    while 127.0.0.10 through the same proxy is served."""
    c = _cluster(env, 1, max_connections_per_ip="2")
    try:
        user = c.add_user("hpgina", messages=[S.simple_message(1)])
        a = c.client("only0")
        b = c.client("only0")
        try:
            check(a.greeting.startswith("+OK") and
                  b.greeting.startswith("+OK"), "two sessions of %s"
                  % CLIENT)
            third = c.client("only0")
            check(third.greeting.startswith("-ERR [SYS/TEMP] Too many "
                                            "connections from your address"),
                  "third from %s: %r" % (CLIENT, third.greeting))
            third.close()
            c.envs[0].wait_log(r"event=limit addr=%s user=- "
                               r"limit=max_connections_per_ip "
                               r"result=refused" % re.escape(CLIENT))
            with c.client("only0", source=OTHER_CLIENT) as o:
                check(o.greeting.startswith("+OK"),
                      "%s through the same proxy: %r" % (OTHER_CLIENT,
                                                         o.greeting))
                check(_login(o, user).startswith("+OK"), "login")
                o.cmd("QUIT")
        finally:
            a.close()
            b.close()
    finally:
        c.stop()


def test_haproxy_tls_listener(env):
    """listen = ... tls haproxy: HAProxy passes TLS through with a v2
    header in front; Satchel reads the header, then does the handshake
    (its own certificate reaches the client), and logs the real
    address with tls=yes."""
    cert, key, pem = _cert(env)
    c = _cluster(env, 1, tls_port=True, tls_cert=cert, tls_key=key)
    try:
        user = c.add_user("hpharry", messages=[S.simple_message(1)])
        p = _tls_client(c.fports["pass"], CLIENT)
        try:
            check(p.greeting.startswith("+OK"), "banner over TLS: %r"
                  % p.greeting)
            der = p.sock.getpeercert(binary_form=True)
            eq(der, ssl.PEM_cert_to_DER_cert(open(cert).read()),
               "the certificate is Satchel's own")
            check(_login(p, user).startswith("+OK"), "login")
            port = p.sock.getsockname()[1]
            p.cmd("QUIT")
        finally:
            p.close()
        check(re.search(r"event=connect addr=%s port=%d listener=%s:%d "
                        r"tls=yes proxy=%s proxy_version=2\n"
                        % (re.escape(CLIENT), port, c.addrs[0], c.tport,
                           PROXY_SRC), c.log(0)),
              "connect line: %s" % c.log(0)[-1500:])
        check(re.search(r"event=tls result=ok", c.log(0)), "handshake")
    finally:
        c.stop()


def test_haproxy_listener_needs_trusted_proxies(env):
    """A haproxy listener with haproxy_trusted_networks unset (default
    none): the master warns at start, and every connection is refused
    with the reason, even from loopback."""
    env.port = S.free_port()
    hport = S.free_port()
    env.start(listen="127.0.0.1:%d\nlisten = 127.0.0.21:%d haproxy"
              % (env.port, hport))
    env.wait_log(r"listener 127\.0\.0\.21:%d is marked haproxy but "
                 r"haproxy_trusted_networks is empty" % hport)
    eq(_raw("127.0.0.21", hport, b"PROXY UNKNOWN\r\n", "127.0.0.1"), b"",
       "reply")
    env.wait_log(r"event=proxy sender=127\.0\.0\.1 listener=127\.0\.0\.21:%d "
                 r"result=refused reason=\"sender not in "
                 r"haproxy_trusted_networks\"" % hport)


def test_haproxy_pool_refuses_a_forged_address(env):
    """A compromised worker that names a client address for a socket
    that is not on a haproxy listener (a direct client's, or its own
    outgoing connection to the haproxy listener) is refused by the auth
    pool, and the attempt is not counted for the named address."""
    import test_privsep as P
    env.port = S.free_port()
    hport = S.free_port()
    user = env.add_user("hpivan", password="pw-ivan", plain=True)
    env.start(listen="127.0.0.1:%d\nlisten = 127.0.0.21:%d haproxy"
              % (env.port, hport),
              haproxy_trusted_networks=PROXY_SRC + "/32")
    addr = P.pool_address(env)

    def attack():
        out = {}
        # A direct client's socket, with a forged address.
        c = P.client_socket(env.port, "127.0.0.3")
        s = P.connect_pool(addr)
        P.send_with_fd(s, P.auth_request(P.MECH_PASS, user, "wrong",
                                         client="10.9.9.9"), c.fileno())
        try:
            out["direct"] = P.recv_msg(s, 5)[0]
        except OSError:
            out["direct"] = "closed"
        # Its own connection to the haproxy listener (the client end).
        t = socket.create_connection(("127.0.0.21", hport),
                                     source_address=(PROXY_SRC, 0),
                                     timeout=5)
        s = P.connect_pool(addr)
        P.send_with_fd(s, P.auth_request(P.MECH_PASS, user, "wrong",
                                         client="10.9.9.9"), t.fileno())
        try:
            out["outgoing"] = P.recv_msg(s, 5)[0]
        except OSError:
            out["outgoing"] = "closed"
        return out

    out, status = P.as_worker(attack)
    eq(status, 0, "the fake worker ran: " + out)
    res = eval(out)  # noqa: S307
    for k in ("direct", "outgoing"):
        check(res[k] in (None, "closed"), "%s: the pool refused (%r)"
              % (k, res[k]))
    log = env.log()
    eq(len(re.findall(r"client address '10\.9\.9\.9' for a connection "
                      r"from \S+ to \S+, which is not a trusted proxy's "
                      r"on a haproxy listener: request refused", log)), 2,
       "both refusals logged")
    check("addr=10.9.9.9" not in log, "nothing counted for 10.9.9.9")
