"""Admin fit (issue 13, parts 3 and 6), through the real daemon:

- auth_username_format: applied once in the auth pool, the same for the
  file and the mysql module, before lookup, failure counting and the
  mail location;
- tls_required: no login of any mechanism before TLS, on any listener,
  from any address; CAPA and the greeting offer nothing before STLS;
- log severity for the journal (<N> prefixes when stderr is the
  journal stream);
- a missing home named precisely, or created with mail_home_create;
- mail_uid/mail_gid by name, satcheld -t's checks of mail_location,
  paths and certificates.
"""
import os
import re
import shutil
import socket
import ssl
import subprocess

import satchel as S
from satchel import check, eq, try_login
from satchel import assert_login_ok as assert_ok
from satchel import assert_login_refused as assert_refused

import test_mysql as M

UP = S.DOMAIN.upper()


def frank_upper(env, messages=1):
    """frank's passwd-file entry spelt frank@TEST.EXAMPLE, his Maildir
    (made by the harness) under the lower-case domain."""
    user = env.add_user("frank", messages=[S.simple_message(i + 1)
                                          for i in range(messages)])
    env.users["frank@" + UP] = env.users.pop(user)
    env.write_users()
    return user


# ---- auth_username_format ----------------------------------------------

def test_userfmt_default_keeps_names(env):
    """Default (empty): names as sent, today's behaviour; the file module
    matches the domain case-insensitively but not the local part."""
    env.add_user("alice", messages=[S.simple_message(1)])
    frank_upper(env)
    env.start()
    assert_ok(env, "alice@" + S.DOMAIN, messages=1)
    assert_refused(env, "ALICE@" + S.DOMAIN)
    # The entry's own spelling goes into the mail location: the issue's
    # "mail under /var/vmail/EXAMPLE.org/", where frank's mail is not.
    r = try_login(env, "frank@" + S.DOMAIN, S.DEFAULT_PASSWORD)
    check(" | +OK 0 " in r, "frank without a format sees no mail: %r" % r)


def test_userfmt_file(env):
    """%Lu with the file module: ALICE logs in as alice, frank's entry
    frank@TEST.EXAMPLE reads the lower-cased Maildir, a failure is
    counted and logged under the rewritten name."""
    env.add_user("alice", messages=[S.simple_message(1),
                                    S.simple_message(2)])
    frank_upper(env)
    env.start(auth_username_format="%Lu")
    assert_ok(env, "ALICE@" + S.DOMAIN.title(), messages=2)
    assert_ok(env, "Alice@" + S.DOMAIN, messages=2)
    with env.session("FRANK@" + UP) as p:
        r = p.cmd("STAT")
        check(r.startswith("+OK 1 "), "frank's STAT: %r" % r)
        st, lines = p.cmd_multi("RETR 1")
        check(st.startswith("+OK") and lines, "RETR 1: %r" % st)
        p.cmd("QUIT")
    log = env.log()
    check("user=frank@%s" % S.DOMAIN in log, "session user is lower case")
    check(not os.path.isdir(os.path.join(env.mail, UP)),
          "nothing made under the upper-case domain")
    n = len(log)
    assert_refused(env, "ALICE@" + UP, "wrong-password")
    env.wait_log(r"event=auth-check user=alice@%s " % re.escape(S.DOMAIN),
                 5, n)
    checks = [ln for ln in env.log()[n:].splitlines()
              if "event=auth-check" in ln]
    check(checks and all("user=alice@%s " % S.DOMAIN in ln
                         for ln in checks),
          "the failure is counted under the rewritten name: %r" % checks)


def test_userfmt_domain_parts(env):
    """%Ln@%Ld on a name without a domain gives "bob@", which no entry
    has: refused like a wrong password; %Ln alone strips the domain."""
    env.add_user("alice", messages=[S.simple_message(1)])
    env.start(auth_username_format="%Ln@%Ld")
    assert_ok(env, "ALICE@" + UP, messages=1)
    assert_refused(env, "ALICE")


def test_userfmt_bad_format_refused_at_start(env):
    env.add_user("alice")
    env.write_config(auth_username_format="%Lx")
    r = subprocess.run([env.satcheld, "-t", "-c", env.conf_path],
                       capture_output=True, text=True, timeout=20)
    check(r.returncode != 0, "-t accepts %Lx")
    check(re.search(r"satchel\.conf:\d+: key 'auth_username_format'",
                    r.stderr), "file:line: key in %r" % r.stderr)


def test_userfmt_mysql(env):
    """The same with the mysql module: the query returns the row's own
    spelling (frank@TEST.EXAMPLE) as the canonical name; with %Lu the
    mail location takes the lower-cased one, without a format the
    upper-case path, as before."""
    M.need_mysql(env)
    db = M.shared_db()
    M.clear_users(env, [db])
    user = M.add_mysql_user(env, [db], "alice",
                            messages=[S.simple_message(1)])
    env.add_user("frank", messages=[S.simple_message(1),
                                    S.simple_message(2)])
    pw = "{SHA512-CRYPT}" + S.sha512_crypt(S.DEFAULT_PASSWORD)
    db.sql("INSERT INTO mailbox (username, password, maildir, local_part, "
           "domain) VALUES (%s, %s, '', 'frank', %s)" % (
               M.lit("frank@" + UP), M.lit(pw), M.lit(UP)), db="mail")
    q = "SELECT password, username AS user FROM mailbox WHERE username = %u"
    try:
        M.start_mysql(env, "mysql", M.mysql_section(env, db, query=q),
                      auth_username_format="%Lu")
        assert_ok(env, user.upper(), messages=1)
        assert_ok(env, "frank@" + S.DOMAIN, messages=2)
        assert_ok(env, "FRANK@" + UP, messages=2)
        check(not os.path.isdir(os.path.join(env.mail, UP)),
              "nothing under the upper-case domain")
        check("user=frank@%s" % S.DOMAIN in env.log(), "lower-case name")
        env.stop()
        # Without the format: the row's spelling, the upper-case path.
        n = len(env.log())
        M.start_mysql(env, "mysql", M.mysql_section(env, db, query=q),
                      auth_username_format="")
        r = try_login(env, "frank@" + S.DOMAIN, S.DEFAULT_PASSWORD)
        check(" | +OK 0 " in r, "no format: the upper-case path, no "
              "mail: %r" % r)
        check("user=frank@%s " % UP in env.log()[n:], "the row's spelling")
    finally:
        M.clear_users(env, [db])


# ---- tls_required ------------------------------------------------------

TLS_REFUSED = "-ERR [AUTH] TLS required: use STLS first"


def _apop(p, user, password):
    m = re.search(r"<[^>]+>", p.greeting)
    ts = m.group(0) if m else "<1.2@nowhere>"
    import hashlib
    return p.cmd("APOP %s %s" % (user, hashlib.md5(
        (ts + password).encode()).hexdigest()))


def test_tls_required(env):
    """Every mechanism refused before TLS on both plain listeners, from a
    trusted and an untrusted address, even with disable_plaintext_auth
    off; CAPA and the greeting offer no login; after STLS and on POP3S
    everything works."""
    import test_tls as T
    user = env.add_user("alice", messages=[S.simple_message(1)],
                        plain=True)
    env.port = S.free_port()
    port2 = S.free_port()
    env.tlsport = S.free_port()
    env.cert, env.key = T._cert(env, "a", T.HOST)
    env.start(listen="127.0.0.1:%d\nlisten = 127.0.0.1:%d\n"
              "listen = 127.0.0.1:%d tls" % (env.port, port2, env.tlsport),
              tls_cert=env.cert, tls_key=env.key, tls_required="yes",
              apop="yes", disable_plaintext_auth="no",
              trusted_networks="127.0.0.0/8",
              sasl="PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256")
    ctx = T._ctx(env.cert)
    plain_ir = T._b64("\0%s\0%s" % (user, S.DEFAULT_PASSWORD))
    n = len(env.log())
    for port in (env.port, port2):
        for src in ("127.0.0.1", "127.0.0.2"):
            what = "port %d from %s" % (port, src)
            with S.Pop(port, source=src) as p:
                check("<" not in p.greeting,
                      "%s: APOP timestamp before TLS: %r" % (what,
                                                            p.greeting))
                lines = T._capa(p)
                check("STLS" in lines, "%s: no STLS in CAPA" % what)
                check("USER" not in lines and T._sasl_line(lines) is None,
                      "%s: CAPA offers a login: %r" % (what, lines))
                eq(p.cmd("USER " + user), TLS_REFUSED, what + " USER")
                eq(p.cmd("PASS " + S.DEFAULT_PASSWORD), TLS_REFUSED,
                   what + " PASS")
                eq(_apop(p, user, S.DEFAULT_PASSWORD), TLS_REFUSED,
                   what + " APOP")
                for mech in ("PLAIN " + plain_ir, "PLAIN", "LOGIN",
                             "CRAM-MD5", "SCRAM-SHA-256"):
                    eq(p.cmd("AUTH " + mech), TLS_REFUSED,
                       "%s AUTH %s" % (what, mech.split()[0]))
                st, mechs = p.cmd_multi("AUTH")
                check(not mechs, "%s: bare AUTH lists %r" % (what, mechs))
                T._stls(p, ctx)
                lines = T._capa(p)
                check("USER" in lines, "%s: CAPA in TLS lacks USER" % what)
                eq(T._sasl_line(lines),
                   "SASL PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256",
                   what + " SASL in TLS")
                r = T._cram(p, user, S.DEFAULT_PASSWORD)
                check(r.startswith("+OK"), "%s: CRAM-MD5 in TLS: %r" % (
                    what, r))
                p.cmd("QUIT")
    log = env.log()[n:]
    eq(log.count("event=auth-check"), 0, "no cleartext attempt reached "
       "the auth pool")
    # POP3S: the banner is inside TLS, so APOP works there.
    with T.TPop(env.tlsport, ctx, source="127.0.0.2") as p:
        check("<" in p.greeting, "POP3S greeting lacks the APOP "
              "timestamp: %r" % p.greeting)
        r = _apop(p, user, S.DEFAULT_PASSWORD)
        check(r.startswith("+OK"), "APOP over POP3S: %r" % r)
        p.cmd("QUIT")
    with T.TPop(env.tlsport, ctx) as p:
        r = p.login(user)
        check(r.startswith("+OK"), "USER/PASS over POP3S: %r" % r)
        p.cmd("QUIT")


def test_tls_required_needs_a_certificate(env):
    env.add_user("alice")
    env.write_config(tls_required="yes")
    r = subprocess.run([env.satcheld, "-t", "-c", env.conf_path],
                       capture_output=True, text=True, timeout=20)
    check(r.returncode != 0, "-t accepts tls_required without tls_cert")
    check("key 'tls_required'" in r.stderr, "names the key: %r" % r.stderr)


# ---- log severity for the journal --------------------------------------

def test_log_journal_prefix(env):
    """With stderr the journal stream (JOURNAL_STREAM = its dev:inode, as
    systemd sets it), every line carries its syslog level as "<N>", the
    prefix journald turns into the priority; without it, no prefix."""
    env.add_user("alice")
    os.chmod(env.users_path, 0o644)
    open(env.log_path, "ab").close()
    st = os.stat(env.log_path)
    old = os.environ.get("JOURNAL_STREAM")
    os.environ["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
    try:
        env.start()
    finally:
        if old is None:
            del os.environ["JOURNAL_STREAM"]
        else:
            os.environ["JOURNAL_STREAM"] = old
    assert_refused(env, "alice@" + S.DOMAIN, "wrong")
    assert_ok(env, "alice@" + S.DOMAIN)
    env.stop()
    lines = [ln for ln in env.log().splitlines() if ln.strip()]
    check(lines, "no log lines")
    bad = [ln for ln in lines if not re.match(r"<[0-7]>satcheld\[\d+\] ",
                                              ln)]
    eq(bad, [], "lines without a <N> prefix")
    check(any(ln.startswith("<6>") and "event=auth " in ln for ln in lines),
          "info lines are <6>")
    check(any(ln.startswith("<6>") and "started" in ln for ln in lines),
          "the start line is <6>")
    # A warning: the users file is readable by everyone.
    check(any(ln.startswith("<4>") and "readable by everyone" in ln
              for ln in lines), "warnings are <4>: %r" % lines[:5])


def test_log_no_prefix_elsewhere(env):
    """A JOURNAL_STREAM naming some other file (a shell started from a
    systemd unit) adds no prefix."""
    env.add_user("alice")
    old = os.environ.get("JOURNAL_STREAM")
    os.environ["JOURNAL_STREAM"] = "1:1"
    try:
        env.start()
    finally:
        if old is None:
            del os.environ["JOURNAL_STREAM"]
        else:
            os.environ["JOURNAL_STREAM"] = old
    assert_ok(env, "alice@" + S.DOMAIN)
    env.stop()
    check(not re.search(r"^<\d>", env.log(), re.M), "a <N> prefix without "
          "the journal")


# ---- a missing home ------------------------------------------------------

def _homed(env, parent):
    """alice with home PARENT/test.example/alice (missing) and her mail
    in %h/Maildir."""
    user = env.add_user("alice")
    home = os.path.join(parent, S.DOMAIN, "alice")
    pw, _ = env.users[user]
    env.users[user] = (pw, home)
    env.write_users()
    return user, home


def test_home_missing_named(env):
    """Default: a missing home fails the login with [SYS/PERM] and a log
    line naming the first directory that does not exist, not the leaf."""
    parent = os.path.join(env.mail, "homes")
    user, home = _homed(env, parent)
    env.start(mail_location="maildir:%h/Maildir")
    r = try_login(env, user, S.DEFAULT_PASSWORD)
    check(r.startswith("-ERR [SYS/PERM]"), "login: %r" % r)
    env.wait_log(r"home %s is missing: %s does not exist" % (
        re.escape(home), re.escape(parent)), 5)
    check(not os.path.exists(parent), "made a directory without "
          "mail_home_create")


def test_home_created(env):
    """mail_home_create = yes: the agent makes the home (and the missing
    directories above it) as the mail user, mode 0700; the Maildir below
    is made as before; the login works."""
    parent = os.path.join(env.mail, "homes")
    user, home = _homed(env, parent)
    env.start(mail_location="maildir:%h/Maildir", mail_home_create="yes")
    r = try_login(env, user, S.DEFAULT_PASSWORD)
    check(r.startswith("+OK") and " | +OK 0 " in r, "login: %r" % r)
    for d in (parent, os.path.dirname(home), home):
        st = os.stat(d)
        eq((st.st_uid, st.st_mode & 0o777), (env.mail_pw.pw_uid, 0o700),
           "owner and mode of %s" % d)
    check(os.path.isdir(os.path.join(home, "Maildir", "cur")),
          "Maildir below the new home")
    check("created %s (home %s)" % (parent, home) in env.log(),
          "the log says what was created")


def test_home_create_fails_named(env):
    """mail_home_create = yes where the mail user may not write: the log
    names the mkdir that failed and why."""
    parent = os.path.join(env.dir, "roothomes")   # env.dir: root, 0755
    user, home = _homed(env, parent)
    env.start(mail_location="maildir:%h/Maildir", mail_home_create="yes")
    r = try_login(env, user, S.DEFAULT_PASSWORD)
    check(r.startswith("-ERR [SYS/PERM]"), "login: %r" % r)
    env.wait_log(r"home %s: mkdir %s: Permission denied" % (
        re.escape(home), re.escape(parent)), 5)


# ---- mail_uid by name, satcheld -t ---------------------------------------

def test_mail_uid_by_name(env):
    """mail_uid = vmail, mail_gid = vmail: users without a uid in the
    passwd-file get the vmail user's; the Maildir made is theirs."""
    user = env.add_user("alice")
    pw, md = env.users[user]
    shutil.rmtree(md)
    with open(env.users_path, "w") as f:
        f.write("%s:%s:::::\n" % (user, pw))
    os.chmod(env.users_path, 0o640)
    env.start(mail_uid=S.MAIL_USER, mail_gid=S.MAIL_USER)
    r = try_login(env, user, S.DEFAULT_PASSWORD)
    check(r.startswith("+OK"), "login: %r" % r)
    eq(os.stat(md).st_uid, env.mail_pw.pw_uid, "owner of the new Maildir")


def _check_conf(env, **over):
    env.write_config(**over)
    r = subprocess.run([env.satcheld, "-t", "-c", env.conf_path],
                       capture_output=True, text=True, timeout=20)
    return r.returncode, r.stderr


def test_check_config_messages(env):
    """satcheld -t: file:line: key: message for a bad mail_location
    (driver, relative path, unknown %-sequence), relative paths, a
    missing or unusable certificate or key; never OpenSSL's raw codes."""
    import test_tls as T
    env.add_user("alice")
    env.port = S.free_port()
    cert, key = T._cert(env, "a", T.HOST)
    junk = os.path.join(env.dir, "junk.pem")
    with open(junk, "w") as f:
        f.write("not a certificate\n")
    os.chmod(junk, 0o600)
    cases = [
        (dict(mail_location="maildr:/var/vmail/%d/%n"),
         r"key 'mail_location': unknown storage driver 'maildr'"),
        (dict(mail_location="maildir:var/vmail/%d/%n"),
         r"key 'mail_location': path 'var/vmail/%d/%n' is not absolute"),
        (dict(mail_location="maildir:/var/vmail/%x"),
         r"key 'mail_location': unknown %-sequence '%x'"),
        (dict(pidfile="satcheld.pid"),
         r"key 'pidfile': 'satcheld.pid' is not an absolute path"),
        (dict(chroot="empty"), r"key 'chroot': "),
        (dict(mail_uid="no-such-user-x"),
         r"key 'mail_uid': unknown user 'no-such-user-x'"),
        (dict(tls_cert="/nonexistent/cert.pem", tls_key=key),
         r"key 'tls_cert': cannot read /nonexistent/cert.pem: No such file"),
        (dict(tls_cert=junk, tls_key=key),
         r"key 'tls_cert': %s: no PEM certificate in the file" % junk),
        (dict(tls_cert=key, tls_key=key),
         r"key 'tls_cert': %s: no PEM certificate in the file" % key),
        (dict(tls_cert=cert, tls_key=cert),
         r"key 'tls_key': %s: no PEM private key in the file" % cert),
    ]
    for over, want in cases:
        rc, err = _check_conf(env, **over)
        check(rc != 0, "-t accepts %r" % over)
        check(re.search(r"satchel\.conf:\d+: " + want.replace("%", "%"),
                        err), "-t for %r: want %r, got %r" % (over, want,
                                                               err))
        check("error:" not in err, "a raw OpenSSL error: %r" % err)
        env.conf.clear()
    rc, err = _check_conf(env, tls_cert=cert, tls_key=key)
    eq(rc, 0, "-t with a good certificate: %r" % err)


def test_check_section_mail(env):
    """A module section's mail key ([pam] mail = ...) is checked like
    mail_location, with its line."""
    env.add_user("alice")
    env.port = S.free_port()
    text = env.config_text(auth="file pam") + \
        "\n[pam]\nmail = maildr:var/mail/%u\n"
    env.write_config(text=text)
    r = subprocess.run([env.satcheld, "-t", "-c", env.conf_path],
                       capture_output=True, text=True, timeout=20)
    check(r.returncode != 0, "-t accepts [pam] mail = maildr:...")
    check(re.search(r"satchel\.conf:\d+: key 'mail' in \[pam\]: unknown "
                    r"storage driver 'maildr'", r.stderr), r.stderr)
