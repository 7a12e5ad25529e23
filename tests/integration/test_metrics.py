"""The metrics endpoint (metrics_listen, issue 14 part 4): what it serves,
checked by Debian's promtool and scraped by a real Prometheus on
loopback; counters that move for logins, RETR, DELE and IN-USE; and the
stats process that serves them, unprivileged and holding no password.

Needs root (reads /proc/PID/mem) and the prometheus package (promtool);
tests/run-tests installs it.  Everything on loopback.
"""
import json
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import satchel
from satchel import check, eq, wait_for

OM = "application/openmetrics-text; version=1.0.0; charset=utf-8"
PLAIN = "text/plain; version=0.0.4; charset=utf-8"
ZERO = "0000000000000000"
CANARY_OK = "metrics-canary-Ok7"
CANARY_BAD = "metrics-canary-Bad3"
CANARY_FILE = "metrics-canary-File9"


def start(env, **over):
    port = satchel.free_port()
    env.start(metrics_listen="127.0.0.1:%d" % port, **over)
    env.metrics_port = port
    wait_for(lambda: env.group_procs("satcheld: stats"), 5,
             what="the stats process")
    return port


def fetch(env, path="/metrics", accept=None, method="GET"):
    """(status, content type, body) of one request."""
    req = urllib.request.Request(
        "http://127.0.0.1:%d%s" % (env.metrics_port, path), method=method)
    if accept:
        req.add_header("Accept", accept)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


def samples(text):
    """{'name{labels}': value} of a Prometheus text exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        k, _, v = line.rpartition(" ")
        out[k] = float(v)
    return out


def metric(env, key):
    return samples(fetch(env)[2]).get(key)


def wait_metric(env, key, want, timeout=5):
    """Counters of a session are added when it ends; gauges once a
    master tick (1 s).  Wait for key to reach want."""
    wait_for(lambda: metric(env, key) == want, timeout,
             what="%s == %s (is %s)" % (key, want, metric(env, key)))


def raw(env, data, timeout=8):
    """Send bytes, read until the server closes."""
    s = socket.create_connection(("127.0.0.1", env.metrics_port), 5)
    s.settimeout(timeout)
    try:
        if data:
            s.sendall(data)
        out = b""
        while True:
            b = s.recv(65536)
            if not b:
                return out
            out += b
    finally:
        s.close()


def status(path):
    st = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.partition(":")
            st[k] = v.strip()
    return st


def memory(pid):
    out = []
    with open("/proc/%d/maps" % pid) as maps, \
            open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in maps:
            parts = line.split()
            if "r" not in parts[1] or (len(parts) >= 6 and parts[5] in
                                       ("[vvar]", "[vsyscall]")):
                continue
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            if hi - lo > 1 << 28:
                continue    # a sanitizer's shadow, not data
            try:
                mem.seek(lo)
                out.append(mem.read(hi - lo))
            except (OSError, ValueError, OverflowError):
                pass
    return b"".join(out)


def promtool():
    return satchel.ensure_tool("promtool", "prometheus")


# ---- the endpoint -----------------------------------------------------

def test_metrics_endpoint_format_and_promtool(env):
    tool = promtool()
    start(env)
    st, ctype, body = fetch(env)
    eq(st, 200, "GET /metrics")
    eq(ctype, PLAIN, "Content-Type of the Prometheus text")
    check("# TYPE satchel_logins_total counter" in body, body[:500])
    check("# EOF" not in body, "no # EOF in the 0.0.4 format")
    r = subprocess.run([tool, "check", "metrics"], input=body,
                       capture_output=True, text=True, timeout=30)
    eq((r.returncode, r.stdout + r.stderr), (0, ""),
       "promtool check metrics")
    # Every metric the docs list is there.
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           "..", "..", "doc", "satchel.conf.5")) as f:
        doc = f.read()
    names = set(re.findall(r"^# TYPE (\S+) ", body, re.M))
    for n in names:
        check(n in doc.replace("\\_", "_"),
              "metric %s is documented in satchel.conf(5)" % n)
    for n in ("satchel_logins_total", "satchel_auth_duration_seconds",
              "satchel_sessions", "satchel_sent_bytes_total",
              "satchel_retr_total", "satchel_dele_total",
              "satchel_lock_conflicts_total", "satchel_tls_sessions_total",
              "satchel_workers", "satchel_auth_processes",
              "satchel_agents_spare", "satchel_limits_total"):
        check(n in names, "metric %s served" % n)

    # OpenMetrics when asked, ending with # EOF.
    st, ctype, om = fetch(env, accept="application/openmetrics-text;"
                          "version=1.0.0,text/plain;version=0.0.4;q=0.5")
    eq((st, ctype), (200, OM), "OpenMetrics by Accept")
    check(om.endswith("# EOF\n"), "OpenMetrics ends with # EOF: %r"
          % om[-40:])
    check("# TYPE satchel_logins counter\n" in om, "counter family name")
    check("satchel_logins_total{" in om, "counter sample name")

    # HEAD, 404, 405, HTTP/1.0, and a bad request.
    st, _, b = fetch(env, method="HEAD")
    eq((st, b), (200, ""), "HEAD /metrics")
    eq(fetch(env, "/")[0], 404, "GET /")
    eq(fetch(env, "/metrics/x")[0], 404, "GET /metrics/x")
    eq(fetch(env, method="POST")[0], 405, "POST /metrics")
    r = raw(env, b"GET /metrics HTTP/1.0\r\n\r\n")
    check(r.startswith(b"HTTP/1.0 200 OK\r\n"), "HTTP/1.0: %r" % r[:60])
    r = raw(env, b"GET /metrics HTTP/9.9\r\n\r\n")
    check(r.startswith(b"HTTP/1.0 400 "), "a bad version: %r" % r[:60])
    r = raw(env, b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 8000)
    check(r.startswith(b"HTTP/1.0 400 "), "an oversized head: %r" % r[:60])
    # A client that sends nothing is closed after the timeout (5 s).
    t0 = time.monotonic()
    eq(raw(env, b"GET /metr", timeout=15), b"", "a stalled request")
    took = time.monotonic() - t0
    check(4 <= took <= 10, "closed after %.1f s, want about 5" % took)
    # Still serving after all that.
    eq(fetch(env)[0], 200, "GET /metrics after the bad requests")


def test_metrics_counters_move(env):
    user = env.add_user("bob", messages=[satchel.simple_message(1),
                                         satchel.simple_message(2),
                                         satchel.simple_message(3)])
    start(env)
    ok = 'satchel_logins_total{result="ok",module="file"}'
    fail = 'satchel_logins_total{result="fail",module="file"}'
    base = samples(fetch(env)[2])
    eq(base[ok], 0, "no login yet")

    # A failed login.
    r = satchel.try_login(env, user, "wrong-password")
    check(r.startswith("-ERR [AUTH]"), "bad password refused: %r" % r)
    wait_metric(env, fail, 1)
    eq(metric(env, ok), 0, "a failure is not an ok")
    eq(metric(env, 'satchel_auth_duration_seconds_count{module="file"}'),
       1, "the histogram counts the check")

    # RETR two messages, DELE one, QUIT: counted when the session ends.
    p = env.session(user)
    m1 = p.cmd_multi("RETR 1")
    m2 = p.cmd_multi("RETR 2")
    check(p.cmd("DELE 3").startswith("+OK"), "DELE 3")
    # A second session of the same user meanwhile: [IN-USE].
    with env.client() as p2:
        r = p2.login(user)
        check("[IN-USE]" in r, "second session: %r" % r)
    check(p.cmd("QUIT").startswith("+OK"), "QUIT")
    p.close()
    wait_metric(env, "satchel_retr_total", 2)
    eq(metric(env, "satchel_dele_total"), 1, "one message deleted")
    eq(metric(env, "satchel_lock_conflicts_total"), 1, "one IN-USE")
    eq(metric(env, ok), 2, "two logins ok (one of them got IN-USE)")
    eq(metric(env, fail), 1, "still one failure")
    check(metric(env, "satchel_retr_bytes_total") > 0, "RETR bytes")
    check(metric(env, "satchel_sent_bytes_total") >
          metric(env, "satchel_retr_bytes_total"), "bytes sent")
    check(m1 is not None and m2 is not None, "both RETR answered")

    # Gauges: a session in TRANSACTION shows, then goes.
    p = env.session(user)
    wait_metric(env, 'satchel_sessions{state="transaction"}', 1)
    check(metric(env, 'satchel_workers{state="busy"}') >= 1, "a busy worker")
    p.cmd("QUIT")
    p.close()
    wait_metric(env, 'satchel_sessions{state="transaction"}', 0)
    eq(metric(env, "satchel_auth_processes"), 1, "auth processes")



def test_metrics_limit_counted(env):
    start(env, max_connections_per_ip=1)
    key = 'satchel_limits_total{limit="max_connections_per_ip"}'
    eq(metric(env, key), 0, "no limit hit yet")
    held = satchel.Pop(env.port, source="127.0.0.2")
    try:
        q = satchel.Pop(env.port, source="127.0.0.2", greeting=False)
        r = q.line()
        q.close()
        check(r.startswith("-ERR [SYS/TEMP]"), "second connection: %r" % r)
        wait_metric(env, key, 1)
    finally:
        held.close()


def test_metrics_tls_versions(env):
    openssl = satchel.ensure_tool("openssl", "openssl")
    cert = os.path.join(env.dir, "m.crt")
    key = os.path.join(env.dir, "m.key")
    r = subprocess.run([openssl, "req", "-x509", "-newkey", "ec",
                        "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                        "-days", "2", "-keyout", key, "-out", cert, "-subj",
                        "/CN=pop.test.example"], capture_output=True,
                       timeout=30)
    eq(r.returncode, 0, "openssl req: %r" % r.stderr[-300:])
    os.chmod(key, 0o600)
    env.port = satchel.free_port()
    tlsport = satchel.free_port()
    while tlsport == env.port:
        tlsport = satchel.free_port()
    start(env, listen="127.0.0.1:%d\nlisten = 127.0.0.1:%d tls"
          % (env.port, tlsport), tls_cert=cert, tls_key=key)

    def handshake(maxv):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.maximum_version = maxv
        raw = socket.create_connection(("127.0.0.1", tlsport), 10)
        with ctx.wrap_socket(raw) as t:
            t.settimeout(10)
            check(t.recv(512).startswith(b"+OK"), "greeting over TLS")
            t.sendall(b"QUIT\r\n")
            t.recv(512)
            return t.version()

    eq(handshake(ssl.TLSVersion.TLSv1_3), "TLSv1.3", "a TLS 1.3 session")
    eq(handshake(ssl.TLSVersion.TLSv1_2), "TLSv1.2", "a TLS 1.2 session")
    eq(handshake(ssl.TLSVersion.TLSv1_3), "TLSv1.3", "a TLS 1.3 session")
    # STLS on the plain port counts too.
    p = satchel.Pop(env.port)
    check(p.cmd("STLS").startswith("+OK"), "STLS")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    p.sock = ctx.wrap_socket(p.sock)
    check(p.cmd("CAPA").startswith("+OK"), "CAPA after STLS")
    p.close()
    wait_metric(env, 'satchel_tls_sessions_total{version="TLSv1.3"}', 3)
    eq(metric(env, 'satchel_tls_sessions_total{version="TLSv1.2"}'), 1,
       "one TLS 1.2 session")


def test_metrics_prometheus_scrapes(env):
    prom = satchel.ensure_tool("prometheus", "prometheus")
    user = env.add_user("carol", messages=[satchel.simple_message(1)])
    port = start(env)
    d = tempfile.mkdtemp(prefix="satchel-prom-")
    web = satchel.free_port()
    cfg = os.path.join(d, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                "scrape_configs:\n  - job_name: satchel\n"
                "    static_configs:\n"
                "      - targets: ['127.0.0.1:%d']\n" % port)
    log = open(os.path.join(d, "prometheus.log"), "wb")
    proc = subprocess.Popen(
        [prom, "--config.file=" + cfg, "--storage.tsdb.path=" +
         os.path.join(d, "data"), "--web.listen-address=127.0.0.1:%d" % web],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=d,
        start_new_session=True)

    def query(q):
        u = "http://127.0.0.1:%d/api/v1/query?%s" % (
            web, urllib.parse.urlencode({"query": q}))
        try:
            with urllib.request.urlopen(u, timeout=3) as r:
                res = json.load(r)
        except (OSError, ValueError):
            return None
        if res.get("status") != "success" or not res["data"]["result"]:
            return None
        return float(res["data"]["result"][0]["value"][1])

    q = 'sum(satchel_logins_total{result="ok"})'
    try:
        first = wait_for(lambda: query(q) is not None, 40, interval=0.5,
                         what="Prometheus has scraped satchel") and query(q)
        eq(first, 0, "no login yet, as Prometheus saw it")
        eq(query('up{job="satchel"}'), 1, "the target is up")
        for _ in range(3):
            satchel.assert_login_ok(env, user)
        wait_for(lambda: query(q) == 3, 20, interval=0.5,
                 what="Prometheus sees 3 logins (has %s)" % query(q))
        # The histogram came through too (OpenMetrics, as Prometheus asks).
        check(query('sum(satchel_auth_duration_seconds_count)') == 3,
              "histogram count in Prometheus")
    except satchel.Failure as e:
        with open(os.path.join(d, "prometheus.log"), "rb") as f:
            tail = f.read()[-1500:].decode("latin-1")
        raise satchel.Failure("%s\n--- prometheus log ---\n%s" % (e, tail))
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(d, ignore_errors=True)
    check(proc.returncode is not None, "Prometheus stopped")


def test_metrics_stats_process_unprivileged(env):
    users = [env.add_user("dave", password=CANARY_OK,
                          messages=[satchel.simple_message(1)]),
             env.add_user("erin", password=CANARY_FILE, plain=True)]
    start(env)
    pids = env.group_procs("satcheld: stats")
    eq(len(pids), 1, "one stats process")
    pid = pids[0]
    w = pwd.getpwnam(satchel.WORKER_USER)
    st = status("/proc/%d/status" % pid)
    eq([int(x) for x in st["Uid"].split()], [w.pw_uid] * 4, "Uid")
    eq([int(x) for x in st["Gid"].split()], [w.pw_gid] * 4, "Gid")
    eq(st["CapEff"], ZERO, "CapEff")
    eq(st["CapBnd"], ZERO, "CapBnd")
    eq(st["NoNewPrivs"], "1", "NoNewPrivs")
    eq(st["Seccomp"], "2", "Seccomp (filter)")
    eq(os.readlink("/proc/%d/root" % pid), env.empty, "chrooted")
    fds = sorted(int(x) for x in os.listdir("/proc/%d/fd" % pid))
    eq([f for f in fds if f > 2], [3], "only the metrics socket above 2")
    check(os.readlink("/proc/%d/fd/3" % pid).startswith("socket:"),
          "descriptor 3 is a socket")

    # Logins with canary passwords, one right, one wrong.
    satchel.assert_login_ok(env, users[0], CANARY_OK)
    r = satchel.try_login(env, users[1], CANARY_BAD)
    check(r.startswith("-ERR"), "wrong password refused: %r" % r)
    wait_metric(env, 'satchel_logins_total{result="fail",module="file"}', 1)
    mem = memory(pid)
    check(len(mem) > 100000, "read the stats process's memory")
    for what, needle in (("dave's password", CANARY_OK),
                         ("erin's password from the passwd-file",
                          CANARY_FILE),
                         ("the wrong password a client sent", CANARY_BAD),
                         ("a user name", "dave@" + satchel.DOMAIN),
                         ("the passwd-file line", "erin@" + satchel.DOMAIN)):
        check(needle.encode() not in mem, "the stats process holds %s"
              % what)

    # Killed: the master restarts it; the counters survive.
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: [p for p in env.group_procs("satcheld: stats")
                      if p != pid], 10, what="a new stats process")
    wait_for(lambda: fetch(env)[0] == 200, 5, what="metrics again")
    eq(metric(env, 'satchel_logins_total{result="ok",module="file"}'), 1,
       "counters kept across the restart")
    eq(metric(env, "satchel_stats_restarts_total"), 1, "one restart")
    # Killed soon after its start, it counts as one that failed to
    # start (throttled, like an auth process); later, just "ended".
    env.wait_log(r"stats process(es die before serving \(pid %d|"
                 r" %d ended)" % (pid, pid), 5)


def test_metrics_off_by_default(env):
    env.start()
    time.sleep(1.2)
    eq(env.group_procs("satcheld: stats"), [], "no stats process")
    check("metrics on" not in env.log(), "no metrics socket")


def test_metrics_listen_bad_value(env):
    env.add_user("frank")
    env.port = satchel.free_port()
    env.write_config(metrics_listen="localhost")
    r = subprocess.run([env.satcheld, "-F", "-c", env.conf_path],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode != 0, "satcheld refuses to start")
    check("metrics_listen" in r.stderr, "names the key: %r" % r.stderr)
