"""Real POP3 clients against satcheld: curl, fetchmail, mpop.  Each runs
with HOME set to the test's directory so its rc files stay there."""
import os
import subprocess

from satchel import (DEFAULT_PASSWORD, TRICKY, check, crlf, rfc_size,
                     ensure_tool, eq, simple_message)

PLAIN = [simple_message(1, body=b"first message"),
         simple_message(2, body=b"second message"),
         simple_message(3, body=b"third message")]


def _run(env, argv, timeout=60, **kw):
    e = dict(os.environ, HOME=env.dir, LC_ALL="C")
    e.pop("FETCHMAILHOME", None)
    return subprocess.run(argv, capture_output=True, timeout=timeout,
                          env=e, cwd=env.dir, **kw)


def _maildir(path):
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(path, sub), 0o700, exist_ok=True)
    return path


def _delivered(path):
    out = []
    for sub in ("new", "cur"):
        d = os.path.join(path, sub)
        for n in sorted(os.listdir(d)):
            with open(os.path.join(d, n), "rb") as f:
                out.append(f.read())
    return out


def test_curl_list_and_retr(env):
    curl = ensure_tool("curl", "curl")
    user = env.add_user("alice", messages=[TRICKY] + PLAIN[:1])
    env.start()
    url = "pop3://127.0.0.1:%d/" % env.port
    cred = "%s:%s" % (user, DEFAULT_PASSWORD)
    r = _run(env, [curl, "-sS", "--max-time", "20", "-u", cred, url])
    eq(r.returncode, 0, "curl LIST exit status (%r)" % r.stderr)
    eq(r.stdout, b"1 %d\r\n2 %d\r\n" % (rfc_size(TRICKY),
                                       rfc_size(PLAIN[0])), "curl LIST")
    r = _run(env, [curl, "-sS", "--max-time", "20", "-u", cred, url + "1"])
    eq(r.returncode, 0, "curl RETR exit status (%r)" % r.stderr)
    eq(r.stdout, crlf(TRICKY), "curl RETR 1, byte for byte")
    r = _run(env, [curl, "-sS", "--max-time", "20", "-u",
                   user + ":wrong", url])
    check(r.returncode != 0, "curl with a bad password succeeded")
    eq(len(env.files(user)), 2, "curl deleted something")


def test_fetchmail_fetch_all(env):
    fetchmail = ensure_tool("fetchmail", "fetchmail")
    user = env.add_user("alice", messages=PLAIN)
    env.start()
    out = os.path.join(env.dir, "fetched")
    os.mkdir(out)
    mda = os.path.join(env.dir, "mda.sh")
    with open(mda, "w") as f:
        f.write("#!/bin/sh\nexec cat > \"$(mktemp %s/msg.XXXXXX)\"\n" % out)
    os.chmod(mda, 0o755)
    rc = os.path.join(env.dir, ".fetchmailrc")
    with open(rc, "w") as f:
        f.write('set no syslog\n'
                'set logfile "%s/fetchmail.log"\n'
                'poll 127.0.0.1 service %d protocol pop3 auth password '
                'timeout 20\n'
                '  user "%s" there with password "%s" is "root" here\n'
                '  options fetchall nokeep no sslcertck\n'
                '  mda "%s"\n'
                % (env.dir, env.port, user, DEFAULT_PASSWORD, mda))
    os.chmod(rc, 0o600)
    r = _run(env, [fetchmail, "-f", rc, "--pidfile",
                   os.path.join(env.dir, "fetchmail.pid"), "-v",
                   "--nodetach"], timeout=60)
    log = r.stdout + r.stderr
    try:
        with open(os.path.join(env.dir, "fetchmail.log"), "rb") as f:
            log += f.read()
    except OSError:
        pass
    eq(r.returncode, 0, "fetchmail exit status; output:\n%s"
       % log.decode("latin-1")[-2000:])
    got = []
    for n in sorted(os.listdir(out)):
        with open(os.path.join(out, n), "rb") as f:
            got.append(f.read())
    eq(len(got), 3, "messages delivered by fetchmail")
    for m in PLAIN:
        body = m.split(b"\n\n", 1)[1]
        subj = m.split(b"\n")[2]
        check(any(body in g and subj in g for g in got),
              "message %r not delivered intact: %r" % (subj, got))
    eq(env.files(user), [], "Maildir after fetchmail without --keep")
    env.wait_log(r"event=logout user=%s .*dele=3/" % user)


def test_mpop_delivers_to_maildir(env):
    mpop = ensure_tool("mpop", "mpop")
    user = env.add_user("alice", messages=PLAIN)
    env.start()
    dest = _maildir(os.path.join(env.dir, "delivered"))
    rc = os.path.join(env.dir, ".mpoprc")
    with open(rc, "w") as f:
        f.write("defaults\n"
                "tls off\n"
                "auth user\n"
                "timeout 20\n"
                "received_header off\n"
                "uidls_file %s/mpop_uidls\n"
                "account test\n"
                "host 127.0.0.1\n"
                "port %d\n"
                "user %s\n"
                "password %s\n"
                "delivery maildir %s\n"
                "keep off\n"
                % (env.dir, env.port, user, DEFAULT_PASSWORD, dest))
    os.chmod(rc, 0o600)
    r = _run(env, [mpop, "-C", rc, "-q", "test"], timeout=60)
    eq(r.returncode, 0, "mpop exit status; output: %r"
       % (r.stdout + r.stderr)[-1500:])
    got = _delivered(dest)
    eq(len(got), 3, "messages delivered by mpop")
    norm = sorted(g.replace(b"\r\n", b"\n") for g in got)
    eq(norm, sorted(PLAIN), "delivered content")
    eq(env.files(user), [], "Maildir after mpop with keep off")
    # a second run finds nothing to do
    r = _run(env, [mpop, "-C", rc, "-q", "test"], timeout=60)
    eq(r.returncode, 0, "second mpop run (%r)" % (r.stdout + r.stderr))
    eq(len(_delivered(dest)), 3, "second run delivered again")
