"""POP3S, STLS and SASL AUTH (issue 4) with real TLS clients: openssl
s_client, curl, fetchmail, python's ssl/poplib, and raw sockets.

Every test makes its own certificates (openssl req -x509, EC P-256) in
the test's directory, starts satcheld with a plain listener (env.port)
and an implicit-TLS listener (env.tlsport), and talks to 127.0.0.1 or
127.0.0.2 only.  Helpers live here, not in satchel.py.
"""
import base64
import hashlib
import hmac
import os
import poplib
import re
import signal
import socket
import ssl
import subprocess
import time

from satchel import (DEFAULT_PASSWORD, TRICKY, Failure, Pop, check, crlf,
                     rfc_size, ensure_tool, eq, free_port, simple_message,
                     wait_for, wire)

HOST = "pop.test.example"
OTHER = "other.example"
REFUSED = ("-ERR [AUTH] Plaintext authentication disallowed on non-secure "
           "(SSL/TLS) connections")
ALL_MECHS = "PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256"


# ---- helpers ---------------------------------------------------------

def _run(env, argv, timeout=30, **kw):
    e = dict(os.environ, HOME=env.dir, LC_ALL="C")
    e.pop("FETCHMAILHOME", None)
    return subprocess.run(argv, capture_output=True, timeout=timeout,
                          env=e, cwd=env.dir, **kw)


def _cert(env, name, cn):
    """A fresh self-signed certificate and key (mode 0600) for cn."""
    openssl = ensure_tool("openssl", "openssl")
    cert = os.path.join(env.dir, name + ".crt")
    key = os.path.join(env.dir, name + ".key")
    r = _run(env, [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                   "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                   "-keyout", key, "-out", cert, "-subj", "/CN=" + cn,
                   "-addext", "subjectAltName=DNS:%s,IP:127.0.0.1" % cn])
    eq(r.returncode, 0, "openssl req for %s (%r)" % (cn, r.stderr[-300:]))
    os.chmod(key, 0o600)
    return cert, key


def _der(path):
    with open(path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def _start(env, **over):
    """satcheld with a plain and an implicit-TLS listener, cert A."""
    env.port = free_port()
    env.tlsport = free_port()
    while env.tlsport == env.port:
        env.tlsport = free_port()
    env.cert, env.key = _cert(env, "a", HOST)
    conf = {"listen": "127.0.0.1:%d\nlisten = 127.0.0.1:%d tls"
            % (env.port, env.tlsport),
            "tls_cert": env.cert, "tls_key": env.key}
    conf.update(over)
    env.start(**conf)
    return env.tlsport


def _restart(env, **over):
    env.stop()
    if env.logf:
        env.logf.close()
        env.logf = None
    env.start(**over)


def _ctx(cafile=None, **kw):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cafile:
        ctx.load_verify_locations(cafile)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    for k, v in kw.items():
        setattr(ctx, k, v)
    return ctx


class TPop(Pop):
    """Pop over implicit TLS."""

    def __init__(self, port, ctx, server_hostname=HOST, session=None,
                 source=None, timeout=10):
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        raw.settimeout(timeout)
        if source:
            raw.bind((source, 0))
        raw.connect(("127.0.0.1", port))
        try:
            self.sock = ctx.wrap_socket(raw, server_hostname=server_hostname,
                                        session=session)
        except BaseException:
            raw.close()
            raise
        self.buf = b""
        self.greeting = self.line()


def _stls(p, ctx, server_hostname=HOST):
    r = p.cmd("STLS")
    check(r.startswith("+OK"), "STLS: %r" % r)
    eq(p.buf, b"", "bytes after the STLS answer")
    p.sock = ctx.wrap_socket(p.sock, server_hostname=server_hostname)
    return p


def _capa(p):
    st, lines = p.cmd_multi("CAPA")
    check(st.startswith("+OK"), "CAPA: %r" % st)
    return lines


def _sasl_line(lines):
    s = [l for l in lines if l.startswith("SASL")]
    check(len(s) <= 1, "several SASL lines: %r" % lines)
    return s[0] if s else None


def _retr(p, n=1):
    st = p.cmd("RETR %d" % n)
    check(st.startswith("+OK"), "RETR %d: %r" % (n, st))
    return p.raw_multiline()


def _login_retr(p, user, msg=TRICKY):
    r = p.login(user)
    check(r.startswith("+OK"), "PASS: %r" % r)
    eq(_retr(p), wire(msg), "RETR 1 byte for byte")
    r = p.cmd("QUIT")
    check(r.startswith("+OK"), "QUIT: %r" % r)


def _served(env, user):
    """A plain client from trusted 127.0.0.1 and a TLS client both work."""
    with Pop(env.port) as p:
        r = p.login(user)
        check(r.startswith("+OK"), "plain login after abuse: %r" % r)
        p.cmd("QUIT")
    with TPop(env.tlsport, _ctx(env.cert)) as p:
        r = p.login(user)
        check(r.startswith("+OK"), "TLS login after abuse: %r" % r)
        p.cmd("QUIT")


def _b64(b):
    if isinstance(b, str):
        b = b.encode()
    return base64.b64encode(b).decode()


def _unb64(s):
    return base64.b64decode(s.encode(), validate=True)


def _hmac(key, msg):
    if isinstance(msg, str):
        msg = msg.encode()
    return hmac.new(key, msg, hashlib.sha256).digest()


def _scram_stored(password, iterations=4096, salt=None):
    """A {SCRAM-SHA-256} passwd-file value in Dovecot's format."""
    salt = salt or os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt,
                                 iterations)
    stored = hashlib.sha256(_hmac(salted, "Client Key")).digest()
    server = _hmac(salted, "Server Key")
    return "{SCRAM-SHA-256}%d,%s,%s,%s" % (iterations, _b64(salt),
                                           _b64(stored), _b64(server))


def _scram(p, user, password, ir=True):
    """SCRAM-SHA-256 (RFC 5802/7677) client.  Returns (final status line,
    server-first attributes); the server signature is verified."""
    cnonce = _b64(os.urandom(18))
    bare = "n=%s,r=%s" % (user, cnonce)
    if ir:
        r = p.cmd("AUTH SCRAM-SHA-256 " + _b64("n,," + bare))
    else:
        r = p.cmd("AUTH SCRAM-SHA-256")
        eq(r, "+ ", "SCRAM without initial response: empty challenge")
        r = p.cmd(_b64("n,," + bare))
    check(r.startswith("+ "), "SCRAM server-first: %r" % r)
    sfirst = _unb64(r[2:]).decode()
    attrs = dict(kv.split("=", 1) for kv in sfirst.split(","))
    check(set(attrs) >= {"r", "s", "i"}, "server-first %r" % sfirst)
    check(attrs["r"].startswith(cnonce) and len(attrs["r"]) > len(cnonce),
          "server nonce %r does not extend ours %r" % (attrs["r"], cnonce))
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(),
                                 _unb64(attrs["s"]), int(attrs["i"]))
    ckey = _hmac(salted, "Client Key")
    without = "c=biws,r=" + attrs["r"]
    authmsg = ",".join((bare, sfirst, without))
    csig = _hmac(hashlib.sha256(ckey).digest(), authmsg)
    proof = bytes(a ^ b for a, b in zip(ckey, csig))
    r = p.cmd(_b64(without + ",p=" + _b64(proof)))
    if not r.startswith("+ "):
        return r, attrs
    want = "v=" + _b64(_hmac(_hmac(salted, "Server Key"), authmsg))
    eq(_unb64(r[2:]).decode(), want, "SCRAM server signature")
    return p.cmd(""), attrs


def _cram(p, user, password):
    r = p.cmd("AUTH CRAM-MD5")
    check(r.startswith("+ "), "CRAM-MD5 challenge: %r" % r)
    chal = _unb64(r[2:])
    check(re.match(rb"^<[^<>@]+@[^<>]+>$", chal) is not None,
          "CRAM-MD5 challenge %r" % chal)
    dig = hmac.new(password.encode(), chal, hashlib.md5).hexdigest()
    return p.cmd(_b64("%s %s" % (user, dig)))


# ---- real clients ----------------------------------------------------

def test_tls_openssl_s_client(env):
    openssl = ensure_tool("openssl", "openssl")
    user = env.add_user("alice", messages=[TRICKY])
    _start(env, trusted_networks="none")
    script = ("USER %s\r\nPASS %s\r\nRETR 1\r\nQUIT\r\n"
              % (user, DEFAULT_PASSWORD)).encode()
    want = re.compile(rb"\+OK[^\r\n]*\r\n" + re.escape(wire(TRICKY)) +
                      rb"\+OK[^\r\n]*\r\n")
    base = [openssl, "s_client", "-quiet", "-verify_return_error",
            "-CAfile", env.cert, "-verify_hostname", HOST,
            "-servername", HOST]
    for how, extra in (("implicit", ["-connect", "127.0.0.1:%d"
                                     % env.tlsport]),
                       ("starttls", ["-connect", "127.0.0.1:%d" % env.port,
                                     "-starttls", "pop3"])):
        r = _run(env, base + extra, input=script, timeout=20)
        check(want.search(r.stdout),
              "s_client %s: no byte-exact RETR then QUIT in %r (stderr %r)"
              % (how, r.stdout[-600:], r.stderr[-600:]))
        check(b"-ERR" not in r.stdout, "s_client %s: %r" % (how, r.stdout))
    log = env.log()
    eq(len(re.findall(r"event=auth user=%s method=pass result=ok tls=yes"
                      % re.escape(user), log)), 2, "TLS logins in the log")


def test_tls_curl_pop3s_and_stls(env):
    curl = ensure_tool("curl", "curl")
    msgs = [TRICKY, simple_message(2)]
    user = env.add_user("alice", messages=msgs)
    _start(env, trusted_networks="none")
    cred = "%s:%s" % (user, DEFAULT_PASSWORD)
    base = [curl, "-sS", "--max-time", "20", "--cacert", env.cert,
            "--resolve", "%s:%d:127.0.0.1" % (HOST, env.tlsport),
            "--resolve", "%s:%d:127.0.0.1" % (HOST, env.port), "-u", cred]
    listing = b"1 %d\r\n2 %d\r\n" % (rfc_size(msgs[0]), rfc_size(msgs[1]))
    for how, url, extra in (
            ("pop3s", "pop3s://%s:%d/" % (HOST, env.tlsport), []),
            ("STLS", "pop3://%s:%d/" % (HOST, env.port), ["--ssl-reqd"])):
        r = _run(env, base + extra + [url])
        eq(r.returncode, 0, "curl %s LIST exit status (%r)" % (how, r.stderr))
        eq(r.stdout, listing, "curl %s LIST" % how)
        r = _run(env, base + extra + [url + "1"])
        eq(r.returncode, 0, "curl %s RETR exit status (%r)" % (how, r.stderr))
        eq(r.stdout, crlf(TRICKY), "curl %s RETR 1 byte for byte" % how)
    # the certificate is checked: another CA fails
    other, _ = _cert(env, "c", HOST)
    r = _run(env, [curl, "-sS", "--max-time", "20", "--cacert", other,
                   "--resolve", "%s:%d:127.0.0.1" % (HOST, env.tlsport),
                   "-u", cred, "pop3s://%s:%d/" % (HOST, env.tlsport)])
    check(r.returncode != 0, "curl accepted a certificate it cannot verify")
    log = env.log()
    eq(len(re.findall(r"method=\S+ result=ok tls=yes", log)), 4,
       "TLS logins in the log")
    check("result=ok tls=no" not in log, "a login without TLS")


def _fetchmail(env, rc_opts, port, tag, n):
    fetchmail = ensure_tool("fetchmail", "fetchmail")
    user = "alice@test.example"
    out = os.path.join(env.dir, "fetched-" + tag)
    os.mkdir(out)
    mda = os.path.join(env.dir, "mda-%s.sh" % tag)
    with open(mda, "w") as f:
        f.write("#!/bin/sh\nexec cat > \"$(mktemp %s/msg.XXXXXX)\"\n" % out)
    os.chmod(mda, 0o755)
    rc = os.path.join(env.dir, "fetchmailrc-" + tag)
    with open(rc, "w") as f:
        f.write('set no syslog\n'
                'poll %s via 127.0.0.1 service %d protocol pop3 '
                'auth password timeout 20\n'
                '  user "%s" there with password "%s" is "root" here\n'
                '  options fetchall keep %s\n'
                '  mda "%s"\n'
                % (HOST, port, user, DEFAULT_PASSWORD, rc_opts, mda))
    os.chmod(rc, 0o600)
    r = _run(env, [fetchmail, "-f", rc, "--pidfile",
                   os.path.join(env.dir, "fetchmail-%s.pid" % tag), "-v",
                   "--nodetach"], timeout=40)
    eq(r.returncode, 0, "fetchmail %s exit status; output:\n%s" % (
        tag, (r.stdout + r.stderr).decode("latin-1")[-2000:]))
    got = []
    for name in sorted(os.listdir(out)):
        with open(os.path.join(out, name), "rb") as f:
            got.append(f.read())
    eq(len(got), n, "messages delivered by fetchmail %s" % tag)
    return got


def test_tls_fetchmail(env):
    ensure_tool("fetchmail", "fetchmail")
    msgs = [simple_message(1, body=b"first message"),
            simple_message(2, body=b"second message")]
    env.add_user("alice", messages=msgs)
    _start(env, trusted_networks="none")
    certopt = 'sslcertck sslcertfile "%s" sslcommonname "%s"' % (env.cert,
                                                                HOST)
    for tag, port, opts in (
            ("implicit", env.tlsport, "ssl sslproto tls1.2+ " + certopt),
            ("stls", env.port, "sslproto tls1.2+ " + certopt)):
        got = _fetchmail(env, opts, port, tag, 2)
        for m in msgs:
            body = m.split(b"\n\n", 1)[1]
            subj = m.split(b"\n")[2]
            check(any(body in g and subj in g for g in got),
                  "%s: message %r not delivered intact: %r"
                  % (tag, subj, got))
    log = env.log()
    eq(len(re.findall(r"result=ok tls=yes", log)), 2,
       "fetchmail TLS logins in the log")
    check("result=ok tls=no" not in log, "a login without TLS")
    # STLS on the plain listener was really negotiated
    check(re.search(r"listener=127\.0\.0\.1:%d tls=no" % env.port, log),
          "no session on the plain listener")


def test_tls_poplib(env):
    user = env.add_user("alice", messages=[TRICKY, simple_message(2)])
    _start(env, sasl=ALL_MECHS)
    ctx = _ctx(env.cert)
    want = crlf(TRICKY)

    def retr_bytes(p):
        resp, lines, octets = p.retr(1)
        check(resp.startswith(b"+OK"), "retr: %r" % resp)
        return b"".join(l + b"\r\n" for l in lines)

    # implicit TLS
    p = poplib.POP3_SSL("127.0.0.1", env.tlsport, context=_ctx(),
                        timeout=10)
    try:
        check("STLS" not in p.capa(), "CAPA over implicit TLS lists STLS")
        p.user(user)
        p.pass_(DEFAULT_PASSWORD)
        eq(retr_bytes(p), want, "POP3_SSL retr 1")
        p.quit()
    finally:
        p.close()
    # STLS
    p = poplib.POP3("127.0.0.1", env.port, timeout=10)
    try:
        caps = p.capa()
        check("STLS" in caps, "CAPA before TLS lacks STLS: %r" % caps)
        p.stls(context=ctx)
        caps = p.capa()
        check("STLS" not in caps, "CAPA after STLS lists STLS: %r" % caps)
        check("USER" in caps, "CAPA after STLS lacks USER: %r" % caps)
        eq(caps.get("SASL"), ALL_MECHS.split(), "SASL after STLS")
        try:
            r = p._shortcmd("STLS")
            raise Failure("STLS inside TLS answered %r" % r)
        except poplib.error_proto as e:
            check(str(e).startswith("b'-ERR"), "STLS in TLS: %s" % e)
        check("USER" in p.capa(), "CAPA after the refused STLS")
        p.user(user)
        p.pass_(DEFAULT_PASSWORD)
        eq(retr_bytes(p), want, "STLS retr 1")
        p.quit()
    finally:
        p.close()
    # STLS after login (trusted loopback, in clear) is refused
    with Pop(env.port) as p:
        r = p.login(user)
        check(r.startswith("+OK"), "clear login from loopback: %r" % r)
        r = p.cmd("STLS")
        check(r.startswith("-ERR"), "STLS after login: %r" % r)
        eq(_retr(p), wire(TRICKY), "RETR in clear after the refused STLS")
        p.cmd("QUIT")
    # STLS with an argument, and twice in one session
    with Pop(env.port) as p:
        check(p.cmd("STLS now").startswith("-ERR"), "STLS with argument")
        _stls(p, ctx)
        check(p.cmd("STLS").startswith("-ERR"), "second STLS")
        _login_retr(p, user)


def test_tls_stls_injection(env):
    user = env.add_user("alice", messages=[TRICKY])
    _start(env)
    ctx = _ctx(env.cert)
    for tail in (b"CAPA\r\n", b"USER %s\r\n" % user.encode()):
        with Pop(env.port) as p:
            p.send(b"STLS\r\n" + tail)
            r = p.line()
            check(r.startswith("+OK"), "STLS: %r" % r)
            eq(p.buf, b"", "bytes after +OK to STLS")
            p.sock = ctx.wrap_socket(p.sock, server_hostname=HOST)
            p.sock.settimeout(1.0)
            try:
                got = p.sock.recv(4096)
                raise Failure("pipelined %r was answered inside TLS: %r"
                              % (tail, got))
            except socket.timeout:
                pass
            p.sock.settimeout(10)
            if tail.startswith(b"USER"):
                # the USER sent in the clear was forgotten
                r = p.cmd("PASS " + DEFAULT_PASSWORD)
                check(r.startswith("-ERR"), "PASS without USER: %r" % r)
            lines = _capa(p)
            check("STLS" not in lines, "CAPA after STLS: %r" % lines)
            _login_retr(p, user)


def test_tls_plaintext_policy(env):
    user = env.add_user("alice", messages=[TRICKY])
    sasl = "PLAIN LOGIN CRAM-MD5"
    _start(env, trusted_networks="127.0.0.1/32", sasl=sasl)
    ctx = _ctx(env.cert)
    plain_ir = _b64("\0%s\0%s" % (user, DEFAULT_PASSWORD))
    with Pop(env.port, source="127.0.0.2") as p:
        lines = _capa(p)
        check("USER" not in lines, "untrusted CAPA lists USER: %r" % lines)
        check("STLS" in lines, "untrusted CAPA lacks STLS: %r" % lines)
        eq(_sasl_line(lines), "SASL CRAM-MD5", "untrusted SASL line")
        eq(p.cmd("USER " + user), REFUSED, "USER from 127.0.0.2")
        eq(p.cmd("PASS " + DEFAULT_PASSWORD), REFUSED, "PASS from 127.0.0.2")
        eq(p.cmd("AUTH PLAIN " + plain_ir), REFUSED, "AUTH PLAIN (IR)")
        eq(p.cmd("AUTH PLAIN"), REFUSED, "AUTH PLAIN")
        eq(p.cmd("AUTH LOGIN"), REFUSED, "AUTH LOGIN")
        st, mechs = p.cmd_multi("AUTH")
        eq(mechs, ["CRAM-MD5"], "bare AUTH from 127.0.0.2")
        _stls(p, ctx)
        lines = _capa(p)
        check("USER" in lines, "CAPA after STLS lacks USER: %r" % lines)
        check("STLS" not in lines, "CAPA after STLS lists STLS")
        eq(_sasl_line(lines), "SASL " + sasl, "SASL line after STLS")
        _login_retr(p, user)
    with Pop(env.port, source="127.0.0.2") as p:
        _stls(p, ctx)
        eq(p.cmd("AUTH PLAIN " + plain_ir)[:3], "+OK", "AUTH PLAIN in TLS")
        p.cmd("QUIT")
    # the implicit-TLS listener is fine from anywhere
    with TPop(env.tlsport, ctx, source="127.0.0.2") as p:
        _login_retr(p, user)
    # trusted 127.0.0.1: clear USER works
    with Pop(env.port) as p:
        lines = _capa(p)
        check("USER" in lines and "STLS" in lines, "trusted CAPA %r" % lines)
        eq(_sasl_line(lines), "SASL " + sasl, "trusted SASL line")
        _login_retr(p, user)
    log = env.log()
    check(re.search(r"addr=127\.0\.0\.2\S* .*tls=no", log),
          "no session from 127.0.0.2 in the log")
    # disable_plaintext_auth = no: 127.0.0.2 may log in in the clear
    _restart(env, disable_plaintext_auth="no")
    with Pop(env.port, source="127.0.0.2") as p:
        lines = _capa(p)
        check("USER" in lines, "CAPA lacks USER with the policy off")
        eq(_sasl_line(lines), "SASL " + sasl, "SASL line, policy off")
        _login_retr(p, user)


def test_tls_sighup_rotation(env):
    user = env.add_user("alice", messages=[TRICKY])
    bob = env.add_user("bob", messages=[TRICKY])
    _start(env)
    nocheck = _ctx()
    der_a = _der(env.cert)
    old = TPop(env.tlsport, nocheck)
    try:
        eq(old.sock.getpeercert(binary_form=True), der_a, "first cert")
        r = old.login(user)
        check(r.startswith("+OK"), "login: %r" % r)
        # cert B replaces A in the same files
        cb, kb = _cert(env, "b", HOST)
        der_b = _der(cb)
        check(der_b != der_a, "two certificates are the same")
        os.replace(cb, env.cert)
        os.replace(kb, env.key)
        off = len(env.log())
        env.signal(signal.SIGHUP)
        env.wait_log(r"reloaded", 10, off)
        with TPop(env.tlsport, nocheck) as p:
            eq(p.sock.getpeercert(binary_form=True), der_b,
               "certificate of a new session after SIGHUP")
        with Pop(env.port) as p:
            _stls(p, _ctx(env.cert))   # verifies against B
            p.cmd("QUIT")
        eq(_retr(old), wire(TRICKY), "RETR in the session open across "
           "SIGHUP")
        eq(old.sock.getpeercert(binary_form=True), der_a, "old session cert")
        # a broken certificate: the reload fails, B keeps serving
        with open(env.cert, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\ngarbage\n"
                    "-----END CERTIFICATE-----\n")
        off = len(env.log())
        env.signal(signal.SIGHUP)
        env.wait_log(r"reload failed", 10, off)
        tail = env.log()[off:]
        check(env.cert in tail and "tls_cert" in tail,
              "failed reload does not name %s and tls_cert: %r"
              % (env.cert, tail))
        check("reloaded" not in tail, "reloaded with a bad certificate")
        for _ in range(3):
            with TPop(env.tlsport, nocheck) as p:
                eq(p.sock.getpeercert(binary_form=True), der_b,
                   "certificate after a failed reload")
                _login_retr(p, bob)
        eq(_retr(old), wire(TRICKY), "old session after the failed reload")
        check(old.cmd("QUIT").startswith("+OK"), "QUIT of the old session")
    finally:
        old.close()


def test_tls_bad_certificate_at_start(env):
    env.add_user("alice")
    env.port, env.tlsport = free_port(), free_port()
    good_cert, good_key = _cert(env, "a", HOST)
    other_cert, other_key = _cert(env, "b", HOST)
    garbage = os.path.join(env.dir, "garbage.pem")
    with open(garbage, "w") as f:
        f.write("this is not a PEM file\n")
    os.chmod(garbage, 0o600)
    missing = os.path.join(env.dir, "missing.pem")
    listen = "127.0.0.1:%d\nlisten = 127.0.0.1:%d tls" % (env.port,
                                                          env.tlsport)

    def check_conf(cert, key):
        env.write_config(listen=listen, tls_cert=cert, tls_key=key)
        r = _run(env, [env.satcheld, "-t", "-c", env.conf_path], timeout=20)
        return r.returncode, (r.stdout + r.stderr).decode("latin-1")

    rc, out = check_conf(good_cert, good_key)
    eq(rc, 0, "satcheld -t with a good certificate (%s)" % out)
    for what, cert, key, name, path in (
            ("garbage certificate", garbage, good_key, "tls_cert", garbage),
            ("missing certificate", missing, good_key, "tls_cert", missing),
            ("garbage key", good_cert, garbage, "tls_key", garbage),
            ("missing key", good_cert, missing, "tls_key", missing),
            ("mismatched key", good_cert, other_key, "tls_key", other_key)):
        rc, out = check_conf(cert, key)
        check(rc != 0, "satcheld -t accepted a %s: %s" % (what, out))
        check(path in out and name in out,
              "%s: output does not name %s and '%s': %r"
              % (what, path, name, out))
    # and the daemon itself refuses to start
    env.write_config(listen=listen, tls_cert=good_cert, tls_key=other_key)
    r = _run(env, [env.satcheld, "-F", "-c", env.conf_path], timeout=20)
    check(r.returncode != 0, "satcheld started with a mismatched key")
    check(other_key.encode() in r.stderr, "start error: %r" % r.stderr)


def test_tls_handshake_abuse(env):
    openssl = ensure_tool("openssl", "openssl")
    user = env.add_user("alice", messages=[TRICKY])
    _start(env, timeout_preauth=2)
    # garbage instead of a ClientHello
    s = socket.create_connection(("127.0.0.1", env.tlsport), 5)
    s.sendall(b"USER alice\r\nPASS x\r\n" + b"\x16\x03\x01garbage" * 20)
    p = Pop.__new__(Pop)
    p.sock, p.buf = s, b""
    check(p.closed(5), "garbage on the TLS port: connection left open")
    s.close()
    _served(env, user)
    # a handshake that stalls is closed after timeout_preauth
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", env.tlsport), 5)
    p.sock, p.buf = s, b""
    check(p.closed(6), "stalled handshake not closed within 6 s")
    took = time.monotonic() - t0
    s.close()
    check(1.5 <= took <= 5, "stalled handshake closed after %.1f s, "
          "timeout_preauth = 2" % took)
    # the same after STLS
    t0 = time.monotonic()
    with Pop(env.port) as p:
        check(p.cmd("STLS").startswith("+OK"), "STLS")
        check(p.closed(6), "stalled STLS handshake not closed")
    check(time.monotonic() - t0 <= 5, "stalled STLS handshake took long")
    _served(env, user)
    # TLS 1.0 and 1.1 refused
    for flag, ver in (("-tls1", ssl.TLSVersion.TLSv1),
                      ("-tls1_1", ssl.TLSVersion.TLSv1_1)):
        r = _run(env, [openssl, "s_client", "-connect",
                       "127.0.0.1:%d" % env.tlsport, flag, "-cipher",
                       "DEFAULT:@SECLEVEL=0", "-brief"],
                 input=b"", timeout=15)
        out = (r.stdout + r.stderr).decode("latin-1")
        check(r.returncode != 0 and "CONNECTION ESTABLISHED" not in out,
              "openssl s_client %s handshake succeeded: %s" % (flag, out))
        ctx = _ctx(minimum_version=ssl.TLSVersion.MINIMUM_SUPPORTED,
                   maximum_version=ver)
        try:
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        except ssl.SSLError:
            pass
        try:
            TPop(env.tlsport, ctx).close()
            raise Failure("python ssl with maximum %s got a session" % ver)
        except (ssl.SSLError, OSError, EOFError):
            pass
        _served(env, user)
    log = env.log()
    check(re.search(r"event=tls result=fail error=\"[^\"]*(version|protocol)",
                    log, re.I), "no failed handshake for an old version "
          "in the log")
    check("handshake timed out" in log, "no handshake timeout in the log")
    # tls_min_version = TLSv1.3: a TLS 1.2 client fails, 1.3 works
    _restart(env, tls_min_version="TLSv1.3")
    ctx = _ctx(env.cert, maximum_version=ssl.TLSVersion.TLSv1_2)
    try:
        TPop(env.tlsport, ctx).close()
        raise Failure("TLS 1.2 client served with tls_min_version TLSv1.3")
    except (ssl.SSLError, OSError, EOFError):
        pass
    with TPop(env.tlsport, _ctx(env.cert)) as p:
        eq(p.sock.version(), "TLSv1.3", "protocol version")
        _login_retr(p, user)


def test_tls_session_resumption(env):
    user = env.add_user("alice", messages=[TRICKY])
    _start(env)
    for ver in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
        ctx = _ctx(env.cert, maximum_version=ver)
        p = TPop(env.tlsport, ctx)
        try:
            check(not p.sock.session_reused, "first session reused")
            r = p.login(user)
            check(r.startswith("+OK"), "login: %r" % r)
            check(p.cmd("QUIT").startswith("+OK"), "QUIT")
            sess = p.sock.session
        finally:
            p.close()
        check(sess is not None and sess.has_ticket,
              "no session ticket over %s" % ver)
        for i in range(2):
            with TPop(env.tlsport, ctx, session=sess) as q:
                check(q.sock.session_reused,
                      "%s session not resumed (try %d)" % (ver, i + 1))
                _login_retr(q, user)
    log = env.log()
    n = len(re.findall(r"event=tls result=ok tls=TLSv1\.[23]/\S+/resumed",
                       log))
    eq(n, 4, "resumed sessions in the log")
    pids = re.findall(r"satcheld\[(\d+)\] worker: session=\S+ event=tls "
                      r"result=ok", log)
    eq(len(pids), 6, "TLS sessions in the log")
    eq(len(set(pids)), 6, "workers serving the 6 TLS sessions (%r)" % pids)


def test_tls_sni(env):
    user = env.add_user("alice", messages=[TRICKY])
    cc, kc = _cert(env, "c", OTHER)
    _start(env, tls_sni="%s %s %s" % (OTHER, cc, kc))
    der_a, der_c = _der(env.cert), _der(cc)
    with TPop(env.tlsport, _ctx(cc), server_hostname=OTHER) as p:
        eq(p.sock.getpeercert(binary_form=True), der_c, "cert for SNI %s"
           % OTHER)
        _login_retr(p, user)
    for name in (None, HOST, "unknown.example"):
        with TPop(env.tlsport, _ctx(), server_hostname=name) as p:
            eq(p.sock.getpeercert(binary_form=True), der_a,
               "cert for SNI %r" % name)
    with Pop(env.port) as p:
        _stls(p, _ctx(cc), server_hostname=OTHER)
        _login_retr(p, user)


# ---- SASL --------------------------------------------------------------

def test_tls_sasl_python(env):
    user = env.add_user("alice", messages=[TRICKY], plain=True)
    crypt = env.add_user("carol", messages=[TRICKY])
    sc = env.add_user("bob", messages=[TRICKY])
    pw, md = env.users[sc]
    env.users[sc] = (_scram_stored("bob-scram-pw"), md)
    env.write_users()
    _start(env, sasl=ALL_MECHS, login_fail_max=20, login_fail_delay_ms=50)
    ctx = _ctx(env.cert)
    FAIL = "-ERR [AUTH] Authentication failed"

    def conn():
        return Pop(env.port)   # trusted 127.0.0.1

    with conn() as p:
        eq(_sasl_line(_capa(p)), "SASL " + ALL_MECHS, "CAPA SASL line")
        st, mechs = p.cmd_multi("AUTH")
        check(st.startswith("+OK"), "bare AUTH: %r" % st)
        eq(mechs, ALL_MECHS.split(), "bare AUTH list")
        # PLAIN: wrong password, authzid, malformed
        eq(p.cmd("AUTH PLAIN " + _b64("\0%s\0wrong" % user)), FAIL,
           "PLAIN wrong password")
        check(p.cmd("AUTH PLAIN " + _b64("bob@test.example\0%s\0%s"
                                         % (user, DEFAULT_PASSWORD)))
              .startswith("-ERR"), "PLAIN with another authzid")
        check(p.cmd("AUTH PLAIN " + _b64("no-nuls")).startswith("-ERR"),
              "malformed PLAIN")
        check(p.cmd("AUTH PLAIN !!notbase64!!").startswith("-ERR"),
              "PLAIN initial response not base64")
        eq(p.cmd("AUTH PLAIN"), "+ ", "PLAIN without initial response")
        check(p.cmd("%%%").startswith("-ERR"), "bad base64 response")
        eq(p.cmd("AUTH PLAIN"), "+ ", "PLAIN again")
        check(p.cmd("*").startswith("-ERR"), "'*' cancels PLAIN")
        check(p.cmd("AUTH FOO-BAR").startswith("-ERR"), "unknown mechanism")
        check(p.cmd("AUTH GSSAPI").startswith("-ERR"), "GSSAPI")
        check(p.cmd("NOOP").startswith("-ERR"), "NOOP before login")
        # success, without initial response
        eq(p.cmd("AUTH PLAIN"), "+ ", "PLAIN prompt")
        r = p.cmd(_b64("\0%s\0%s" % (user, DEFAULT_PASSWORD)))
        check(r.startswith("+OK"), "PLAIN without IR: %r" % r)
        eq(_retr(p), wire(TRICKY), "RETR after AUTH PLAIN")
        check(p.cmd("AUTH PLAIN").startswith("-ERR"), "AUTH after login")
    with conn() as p:
        p.send("AUTH PLAIN " + "A" * 5000 + "\r\n")
        check(p.line().startswith("-ERR"), "over-long AUTH line")
        r = p.cmd("AUTH PLAIN " + _b64("%s\0%s\0%s" % (
            user, user, DEFAULT_PASSWORD)))
        check(r.startswith("+OK"), "PLAIN with authzid = user: %r" % r)
        p.cmd("QUIT")
    # LOGIN
    with conn() as p:
        eq(p.cmd("AUTH LOGIN"), "+ " + _b64("Username:"), "LOGIN user")
        eq(p.cmd(_b64(user)), "+ " + _b64("Password:"), "LOGIN password")
        eq(p.cmd(_b64("wrong")), FAIL, "LOGIN wrong password")
        eq(p.cmd("AUTH LOGIN " + _b64(user)), "+ " + _b64("Password:"),
           "LOGIN with initial response")
        check(p.cmd("*").startswith("-ERR"), "'*' cancels LOGIN")
        eq(p.cmd("AUTH LOGIN"), "+ " + _b64("Username:"), "LOGIN again")
        p.cmd(_b64(user))
        r = p.cmd(_b64(DEFAULT_PASSWORD))
        check(r.startswith("+OK"), "AUTH LOGIN: %r" % r)
        eq(_retr(p), wire(TRICKY), "RETR after AUTH LOGIN")
        p.cmd("QUIT")
    # CRAM-MD5
    with conn() as p:
        eq(_cram(p, user, "wrong"), FAIL, "CRAM-MD5 wrong password")
        eq(_cram(p, crypt, DEFAULT_PASSWORD), FAIL, "CRAM-MD5, crypt user")
        eq(_cram(p, "nobody@test.example", DEFAULT_PASSWORD), FAIL,
           "CRAM-MD5 unknown user")
        check(p.cmd("AUTH CRAM-MD5").startswith("+ "), "CRAM-MD5")
        check(p.cmd("*").startswith("-ERR"), "'*' cancels CRAM-MD5")
        r = _cram(p, user, DEFAULT_PASSWORD)
        check(r.startswith("+OK"), "CRAM-MD5: %r" % r)
        eq(_retr(p), wire(TRICKY), "RETR after CRAM-MD5")
        p.cmd("QUIT")
    # SCRAM-SHA-256 with a {PLAIN} user (stored keys: the next test)
    for ir in (True, False):
        with conn() as p:
            r, attrs = _scram(p, user, DEFAULT_PASSWORD, ir)
            check(r.startswith("+OK"), "SCRAM %s: %r" % (user, r))
            eq(_retr(p), wire(TRICKY), "RETR after SCRAM")
            p.cmd("QUIT")
    with TPop(env.tlsport, ctx) as p:
        r, attrs = _scram(p, user, DEFAULT_PASSWORD)
        check(r.startswith("+OK"), "SCRAM over TLS: %r" % r)
        p.cmd("QUIT")
    with conn() as p:
        fails = []
        for who, secret in ((user, "wrong"), (sc, "wrong"),
                            ("nobody@test.example", "x"),
                            (crypt, DEFAULT_PASSWORD)):
            r, attrs = _scram(p, who, secret)
            eq(r, FAIL, "SCRAM %s with %r" % (who, secret))
            fails.append((len(_unb64(attrs["s"])), attrs["i"]))
        eq(len(set(fails)), 1, "SCRAM failures differ in salt length or "
           "iterations: %r" % fails)
        # cancel at the second step, bad base64, then USER/PASS
        check(p.cmd("AUTH SCRAM-SHA-256 " + _b64(
            "n,,n=%s,r=abcdefghijkl" % user)).startswith("+ "), "SCRAM")
        check(p.cmd("*").startswith("-ERR"), "'*' cancels SCRAM")
        check(p.cmd("AUTH SCRAM-SHA-256 ###").startswith("-ERR"),
              "SCRAM bad base64")
        check(p.cmd("AUTH SCRAM-SHA-256 " + _b64("y,,n=x")).startswith(
            "-ERR"), "SCRAM malformed client-first")
        r = p.login(user)
        check(r.startswith("+OK"), "USER/PASS after the SASL failures: %r"
              % r)
        p.cmd("QUIT")
    # exactly the configured mechanisms are offered and accepted
    _restart(env, sasl="LOGIN SCRAM-SHA-256")
    with conn() as p:
        eq(_sasl_line(_capa(p)), "SASL LOGIN SCRAM-SHA-256", "SASL line")
        eq(p.cmd_multi("AUTH")[1], ["LOGIN", "SCRAM-SHA-256"], "bare AUTH")
        check(p.cmd("AUTH CRAM-MD5").startswith("-ERR"),
              "CRAM-MD5 not configured")
        check(p.cmd("AUTH PLAIN " + _b64("\0%s\0%s" % (
            user, DEFAULT_PASSWORD))).startswith("-ERR"),
            "PLAIN not configured")


def test_tls_sasl_scram_stored(env):
    """A user stored as {SCRAM-SHA-256} (Dovecot's format, made here)
    logs in with SCRAM-SHA-256, over TLS too, and with USER/PASS."""
    bob = env.add_user("bob", messages=[TRICKY])
    md = env.users[bob][1]
    env.users[bob] = (_scram_stored("bob-scram-pw"), md)
    env.write_users()
    _start(env, sasl=ALL_MECHS)
    with Pop(env.port) as p:
        r, attrs = _scram(p, bob, "bob-scram-pw", ir=False)
        check(r.startswith("+OK"), "SCRAM with stored keys: %r" % r)
        eq(_retr(p), wire(TRICKY), "RETR after SCRAM")
        p.cmd("QUIT")
    with TPop(env.tlsport, _ctx(env.cert)) as p:
        r, attrs = _scram(p, bob, "bob-scram-pw")
        check(r.startswith("+OK"), "SCRAM over TLS, stored keys: %r" % r)
        p.cmd("QUIT")
    with Pop(env.port) as p:
        r = p.login(bob, "bob-scram-pw")
        check(r.startswith("+OK"), "USER/PASS for a {SCRAM-SHA-256} "
              "user: %r" % r)
        p.cmd("QUIT")


def test_tls_sasl_curl(env):
    curl = ensure_tool("curl", "curl")
    user = env.add_user("alice", messages=[TRICKY], plain=True)
    _start(env, sasl=ALL_MECHS, trusted_networks="none")
    cred = "%s:%s" % (user, DEFAULT_PASSWORD)
    url = "pop3s://%s:%d/" % (HOST, env.tlsport)
    base = [curl, "-sS", "--max-time", "20", "--cacert", env.cert,
            "--resolve", "%s:%d:127.0.0.1" % (HOST, env.tlsport)]
    version = _run(env, [curl, "--version"]).stdout.decode()
    cases = [("PLAIN", "plain", []), ("LOGIN", "login", []),
             ("CRAM-MD5", "cram-md5", []),
             ("PLAIN", "plain", ["--sasl-authzid", user])]
    if "gsasl" in version.lower():
        cases.append(("SCRAM-SHA-256", "scram", []))
    for mech, method, extra in cases:
        off = len(env.log())
        r = _run(env, base + extra + ["-u", cred, "--login-options",
                                      "AUTH=" + mech, url + "1"])
        eq(r.returncode, 0, "curl AUTH=%s %s exit status (%r)"
           % (mech, extra, r.stderr))
        eq(r.stdout, crlf(TRICKY), "curl AUTH=%s RETR 1" % mech)
        env.wait_log(r"event=auth user=%s method=%s result=ok tls=yes"
                     % (re.escape(user), method), 5, off)
    # failures
    for mech in ("PLAIN", "LOGIN", "CRAM-MD5"):
        r = _run(env, base + ["-u", user + ":wrong", "--login-options",
                              "AUTH=" + mech, url])
        check(r.returncode != 0, "curl AUTH=%s wrong password succeeded"
              % mech)
    r = _run(env, base + ["-u", cred, "--login-options", "AUTH=PLAIN",
                          "--sasl-authzid", "bob@test.example", url])
    check(r.returncode != 0, "curl with another authzid succeeded")
    # STLS then SASL on the plain listener
    r = _run(env, [curl, "-sS", "--max-time", "20", "--ssl-reqd",
                   "--cacert", env.cert, "--resolve",
                   "%s:%d:127.0.0.1" % (HOST, env.port), "-u", cred,
                   "--login-options", "AUTH=PLAIN",
                   "pop3://%s:%d/1" % (HOST, env.port)])
    eq(r.returncode, 0, "curl STLS + AUTH=PLAIN (%r)" % r.stderr)
    eq(r.stdout, crlf(TRICKY), "curl STLS + AUTH=PLAIN RETR")


def test_tls_sasl_overlong(env):
    """An over-long SASL response (5000 characters, sent at once or in
    two segments) gets one -ERR, and its tail is not taken for a
    command: the session stays in step."""
    user = env.add_user("alice", messages=[TRICKY], plain=True)
    _start(env)
    with Pop(env.port) as p:
        for mech, prompt, split in (
                ("LOGIN", "+ " + _b64("Username:"), False),
                ("PLAIN", "+ ", False),
                ("PLAIN", "+ ", True)):
            eq(p.cmd("AUTH " + mech), prompt, "AUTH %s prompt" % mech)
            if split:
                p.send("A" * 4500)
                time.sleep(0.3)
                p.send("A" * 500 + "\r\n")
            else:
                p.send("A" * 5000 + "\r\n")
            r = p.line()
            check(r.startswith("-ERR"), "over-long SASL response: %r" % r)
            r = p.cmd("NOOP")
            eq(r, "-ERR Not logged in yet", "answer to the NOOP after the "
               "over-long %s response%s (an extra -ERR means its tail was "
               "read as a command)" % (mech, " in two parts" if split
                                       else ""))
        _login_retr(p, user)


# ---- the key process (issue 11 item 2) ---------------------------------

def _cert_rsa(env, name, cn):
    openssl = ensure_tool("openssl", "openssl")
    cert = os.path.join(env.dir, name + ".crt")
    key = os.path.join(env.dir, name + ".key")
    r = _run(env, [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                   "-days", "2", "-keyout", key, "-out", cert, "-subj",
                   "/CN=" + cn, "-addext", "subjectAltName=DNS:%s" % cn])
    eq(r.returncode, 0, "openssl req rsa for %s (%r)" % (cn, r.stderr[-300:]))
    os.chmod(key, 0o600)
    return cert, key


def test_tls_key_process_operations(env):
    """Every private-key operation TLS asks of the key process, with an
    RSA certificate (TLS 1.3 RSA-PSS, TLS 1.2 PKCS#1 and PSS signatures)
    and an EC one (TLS 1.3 and 1.2 ECDSA), each ending in a login; a
    client that offers only static RSA key exchange is refused."""
    openssl = ensure_tool("openssl", "openssl")
    user = env.add_user("alice", messages=[TRICKY])
    env.port, env.tlsport = free_port(), free_port()
    rsa_cert, rsa_key = _cert_rsa(env, "rsa", HOST)
    ec_cert, ec_key = _cert(env, "ec", OTHER)
    env.start(listen="127.0.0.1:%d\nlisten = 127.0.0.1:%d tls"
              % (env.port, env.tlsport), tls_cert=rsa_cert,
              tls_key=rsa_key, tls_sni="%s %s %s" % (OTHER, ec_cert, ec_key),
              trusted_networks="none")
    script = ("USER %s\r\nPASS %s\r\nQUIT\r\n"
              % (user, DEFAULT_PASSWORD)).encode()
    cases = (
        (HOST, rsa_cert, ["-tls1_3"], "TLSv1.3", r"RSA-PSS"),
        (HOST, rsa_cert, ["-tls1_2", "-sigalgs", "RSA+SHA256"], "TLSv1.2",
         r"Signature type: RSA$"),
        (HOST, rsa_cert, ["-tls1_2", "-sigalgs", "RSA-PSS+SHA256"],
         "TLSv1.2", r"RSA-PSS"),
        (OTHER, ec_cert, ["-tls1_3"], "TLSv1.3", r"ECDSA"),
        (OTHER, ec_cert, ["-tls1_2"], "TLSv1.2", r"ECDSA"),
    )
    for name, ca, extra, ver, rx in cases:
        r = _run(env, [openssl, "s_client", "-brief", "-ign_eof",
                       "-verify_return_error",
                       "-CAfile", ca, "-servername", name, "-connect",
                       "127.0.0.1:%d" % env.tlsport] + extra,
                 input=script, timeout=20)
        out = (r.stdout + r.stderr).decode("latin-1")
        what = "%s %s" % (name, " ".join(extra))
        check("Protocol version: " + ver in out, "%s: %s" % (what, out))
        check(re.search(rx, out, re.M), "%s: no /%s/ in %s" % (what, rx, out))
        eq(len(re.findall(r"^\+OK", r.stdout.decode("latin-1"), re.M)), 4,
           "%s: greeting, USER, PASS, QUIT answers (%s)" % (what, out))
    # static RSA key exchange is never offered (no forward secrecy, and
    # the key process does no decryption)
    r = _run(env, [openssl, "s_client", "-brief", "-connect",
                   "127.0.0.1:%d" % env.tlsport, "-tls1_2", "-cipher",
                   "AES128-GCM-SHA256:AES256-SHA"], input=b"", timeout=20)
    out = (r.stdout + r.stderr).decode("latin-1")
    check(r.returncode != 0 and "CONNECTION ESTABLISHED" not in out,
          "a client offering only RSA key exchange got a session: %s" % out)
    log = env.log()
    check("key process:" not in log, "the key process complained: %s"
          % log[-2000:])
    eq(len(re.findall(r"result=ok tls=yes", log)), len(cases),
       "TLS logins in the log")


def test_tls_key_process_reload(env):
    """SIGHUP: a new key process loads the new key, the old one retires;
    a bad key fails the reload, names file:line, and the running key
    process keeps serving; a killed key process is logged and restarted
    (the restart reads the good key again: the bad file is put back)."""
    user = env.add_user("alice", messages=[TRICKY])
    _start(env)
    keys0 = env.group_procs("satcheld: key")
    eq(len(keys0), 1, "key processes at start")
    cb, kb = _cert_rsa(env, "b", HOST)
    os.replace(cb, env.cert)
    os.replace(kb, env.key)
    off = len(env.log())
    env.signal(signal.SIGHUP)
    env.wait_log(r"reloaded", 10, off)
    with TPop(env.tlsport, _ctx(env.cert)) as p:
        _login_retr(p, user)
    keys1 = env.group_procs("satcheld: key")
    eq(len(keys1), 2, "key processes after a reload (the old one retires "
       "after a grace period)")
    check(keys0[0] in keys1, "the old key process left before its grace")
    new = [k for k in keys1 if k != keys0[0]][0]
    # a key that is not a key: reload fails, file:line named
    kb2 = env.key + ".good"
    os.link(env.key, kb2)
    os.unlink(env.key)
    with open(env.key, "w") as f:
        f.write("-----BEGIN PRIVATE KEY-----\nAAAA\n"
                "-----END PRIVATE KEY-----\n")
    off = len(env.log())
    env.signal(signal.SIGHUP)
    env.wait_log(r"reload failed", 10, off)
    tail = env.log()[off:]
    check(re.search(r"%s:\d+: key 'tls_key': %s: " % (
        re.escape(env.conf_path), re.escape(env.key)), tail),
        "failed reload does not name file:line and tls_key: %r" % tail)
    wait_for(lambda: len(env.group_procs("satcheld: key")) == 2, 5,
             what="the failed key process to go")
    for _ in range(2):
        with TPop(env.tlsport, _ctx(env.cert)) as p:
            _login_retr(p, user)
    eq(sorted(env.group_procs("satcheld: key")), sorted(keys1),
       "key processes after the failed reload")
    os.replace(kb2, env.key)
    # a dead key process is noticed and restarted with the same keys
    off = len(env.log())
    os.kill(new, signal.SIGKILL)
    env.wait_log(r"key process %d killed by signal 9: restarting" % new,
                 10, off)
    env.wait_log(r"key process restarted: pid \d+", 15, off)
    for _ in range(2):
        with TPop(env.tlsport, _ctx(env.cert)) as p:
            _login_retr(p, user)
    eq(len(env.group_procs("satcheld: key")), 2, "key processes after the "
       "restart")
