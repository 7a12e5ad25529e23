"""satchelctl(8) and the master's control socket; auth_verbose;
lock_conflict = takeover (issue 13, parts 4 and 5).

Each test starts the real daemon, runs the real satchelctl binary against
the same config file (it finds the socket beside the pidfile, as an
installed one does) and checks what it prints and what happened to the
mailbox.  MariaDB for the mysql module is test_mysql.py's helper.
"""
import os
import re
import shutil
import socket
import stat
import subprocess
import time

import satchel as S
from satchel import check, eq


def ctl_path(env):
    p = os.path.join(env.builddir, "satchelctl")
    if not os.access(p, os.X_OK):
        raise S.Failure("no satchelctl at %s" % p)
    return p


def ctl(env, *args, stdin="", prefix=(), timeout=30):
    """Run satchelctl -c CONF ARGS; (returncode, stdout, stderr)."""
    r = subprocess.run(list(prefix) + [ctl_path(env), "-c", env.conf_path]
                       + list(args), input=stdin.encode(),
                       capture_output=True, timeout=timeout)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def sock_path(env):
    return os.path.join(env.dir, "satcheld.ctl")


def session_ids(env, user):
    """Session ids of user's successful logins, in log order."""
    return re.findall(r"session=([0-9a-f]{16}) event=auth user=%s "
                      r"method=\S+ result=ok" % re.escape(user), env.log())


# ---- who, kick --------------------------------------------------------

def test_ctl_who_and_kick(env):
    """who lists a live session (user, address, state); kick ends it
    without UPDATE: the DELE it had given is not applied."""
    user = env.add_user("alice", messages=[S.simple_message(1),
                                           S.simple_message(2)])
    env.start()
    before = env.files(user)
    eq(len(before), 2, "messages at start")
    st = os.stat(sock_path(env))
    check(stat.S_ISSOCK(st.st_mode), "control socket beside the pidfile")
    eq(stat.S_IMODE(st.st_mode), 0o600, "control socket mode")
    eq(st.st_uid, 0, "control socket owner")

    rc, out, err = ctl(env, "who")
    eq(rc, 0, "who with no session: %s" % err)
    check("0 sessions" in out, "who says 0 sessions: %r" % out)

    a = env.session(user)
    check(a.cmd("DELE 1").startswith("+OK"), "DELE 1")

    def row():
        rc, out, err = ctl(env, "who")
        eq(rc, 0, "who: %s" % err)
        rows = [l for l in out.splitlines() if l.startswith(user)]
        eq(len(rows), 1, "one row for %s in %r" % (user, out))
        f = rows[0].split()
        # The worker counts what it sent once it waits for the next line.
        return f if int(f[4]) > 0 else None
    f = S.wait_for(row, 5, interval=0.1, what="who with bytes sent")
    eq(f[1], "127.0.0.1", "client address in who")
    eq(f[2], "transaction", "state in who")
    check(re.match(r"\d{4}-\d\d-\d\dT", f[3]), "since is a time: %r" % f[3])
    ids = session_ids(env, user)
    eq(f[5], ids[-1], "session id in who")

    rc, out, err = ctl(env, "kick", user)
    eq(rc, 0, "kick: %s %s" % (out, err))
    check("nothing deleted" in out, "kick's answer: %r" % out)
    r = a.line()
    check(r.startswith("-ERR"), "kicked client told: %r" % r)
    check(a.closed(), "kicked connection closed")
    env.wait_log(r"session=%s event=logout .*reason=kicked" % ids[-1])
    eq(env.files(user), before, "the kicked session's DELE not applied")
    rc, out, err = ctl(env, "who")
    check(user not in out, "who after kick: %r" % out)
    # The mailbox is free again at once, and both messages are there.
    S.assert_login_ok(env, user, messages=2)
    rc, out, err = ctl(env, "kick", "nobody@" + S.DOMAIN)
    check(rc != 0 and "no session" in err, "kick of nobody: %r" % err)


# ---- auth test, user ---------------------------------------------------

def test_ctl_auth_test_file(env):
    """auth test tells ok from a wrong password from an unknown user,
    module by module; failures are not counted (no auth-check line, no
    delay for the next real login); user resolves the mailbox."""
    user = env.add_user("alice", messages=[S.simple_message(1)])
    env.start(login_fail_delay_ms=3000)
    rc, out, err = ctl(env, "auth", "test", user, S.DEFAULT_PASSWORD)
    eq(rc, 0, "auth test ok: %s %s" % (out, err))
    check(re.search(r"^file: ok user=%s$" % re.escape(user), out, re.M),
          "file: ok: %r" % out)
    check("result: ok (module file)" in out, "verdict: %r" % out)

    # The password on stdin (not a tty): read from there, no prompt.
    rc, out, err = ctl(env, "auth", "test", user, stdin="wrong-pw\n")
    eq(rc, 1, "auth test, wrong password")
    check("file: password-mismatch" in out, "mismatch: %r" % out)
    check("result: password-mismatch" in out, "verdict: %r" % out)

    rc, out, err = ctl(env, "auth", "test", "ghost@" + S.DOMAIN, "x")
    eq(rc, 1, "auth test, unknown user")
    check("file: unknown-user" in out, "unknown: %r" % out)
    check("result: unknown-user" in out, "verdict: %r" % out)

    log = env.log()
    check("event=auth-check" not in log, "auth test counted as a login")
    check("wrong-pw" not in log and S.DEFAULT_PASSWORD not in log,
          "a password in the log")
    check("event=auth-reason" not in log, "auth_verbose is off by default")
    # No tarpit: a real login right after answers at once.
    t0 = time.monotonic()
    S.assert_login_ok(env, user, messages=1)
    check(time.monotonic() - t0 < 1.5, "login delayed after auth tests")

    rc, out, err = ctl(env, "user", user)
    eq(rc, 0, "user: %s %s" % (out, err))
    eq(re.search(r"^uid: (\d+)$", out, re.M).group(1),
       str(env.mail_pw.pw_uid), "uid in %r" % out)
    eq(re.search(r"^gid: (\d+)$", out, re.M).group(1),
       str(env.mail_pw.pw_gid), "gid")
    check("mail: maildir:%s" % env.maildir(user) in out, "mail: %r" % out)
    check("module: file" in out, "module: %r" % out)
    check(S.DEFAULT_PASSWORD not in out and "$6$" not in out,
          "user prints no secret")
    rc, out, err = ctl(env, "user", "ghost@" + S.DOMAIN)
    check(rc != 0 and "unknown user" in err, "user ghost: %r" % err)


def test_ctl_auth_test_mysql(env):
    """The same with the chain 'file mysql' on a real MariaDB: each
    module answers for itself; disabled is told apart; config -n shows
    the [mysql] section without the database password."""
    import test_mysql as M
    M.need_mysql(env)
    db = M.shared_db()
    M.clear_users(env, [db])
    bob = M.add_mysql_user(env, [db], "bob", password="bob-pw")
    off = M.add_mysql_user(env, [db], "off", password="off-pw", active=0)
    # bob and off only in MariaDB; alice only in the file.
    env.users.clear()
    alice = env.add_user("alice", messages=[S.simple_message(1)])
    M.start_mysql(env, "file mysql", M.mysql_section(env, db),
                  keep_file=True)
    try:
        rc, out, err = ctl(env, "auth", "test", bob, "bob-pw")
        eq(rc, 0, "bob ok: %s %s" % (out, err))
        check("file: unknown-user" in out, "file does not know bob: %r"
              % out)
        check("mysql: ok" in out, "mysql knows bob: %r" % out)
        check("result: ok (module mysql)" in out, "verdict: %r" % out)
        rc, out, err = ctl(env, "auth", "test", bob, "nope")
        check(rc == 1 and "mysql: password-mismatch" in out,
              "bob wrong: %r" % out)
        rc, out, err = ctl(env, "auth", "test", off, "off-pw")
        check(rc == 1 and "mysql: disabled" in out, "off: %r" % out)
        rc, out, err = ctl(env, "auth", "test", "ghost@" + S.DOMAIN, "x")
        check("file: unknown-user" in out and "mysql: unknown-user" in out
              and "result: unknown-user" in out, "ghost: %r" % out)
        rc, out, err = ctl(env, "auth", "test", alice, S.DEFAULT_PASSWORD)
        check(rc == 0 and "file: ok" in out, "alice: %r" % out)

        rc, out, err = ctl(env, "config", "-n")
        eq(rc, 0, "config -n: %s" % err)
        check("[mysql]" in out and "password_file = " in out,
              "the [mysql] section: %r" % out)
        check(db.db_password not in out, "the database password shown")
        check("auth = file mysql" in out, "a changed key: %r" % out)
        check("workers_max =" not in out, "a default in -n: %r" % out)
        M.no_password_in_log(env, db, "bob-pw", "off-pw")
    finally:
        M.clear_users(env, [db])


def test_ctl_auth_test_backend_down_and_scheme(env):
    """mysql with its database unreachable answers backend-down; a
    passwd-file entry with an unknown scheme answers scheme-unsupported
    (auth test and the auth_verbose line alike)."""
    import test_mysql as M
    if not os.path.exists(os.path.join(env.module_dir, "auth_mysql.so")):
        raise S.Skip("auth_mysql.so not built")
    user = env.add_user("alice", messages=[S.simple_message(1)])
    odd = "odd@" + S.DOMAIN
    env.users[odd] = ("{NO-SUCH-SCHEME}abc", env.maildir(user))
    env.write_users()
    pwfile = os.path.join(env.dir, "db.pw")
    with open(pwfile, "w") as f:
        f.write("not-used\n")
    os.chmod(pwfile, 0o600)
    section = ("[mysql]\nhosts = unix:%s/no-such.sock\nuser = satchel\n"
               "password_file = %s\ndatabase = mail\nquery = SELECT "
               "password FROM mailbox WHERE username = %%u\n"
               "connect_timeout = 2\nread_timeout = 2\n" % (env.dir, pwfile))
    M.start_mysql(env, "file mysql", section, keep_file=True,
                  auth_verbose="yes")
    rc, out, err = ctl(env, "auth", "test", "ghost@" + S.DOMAIN, "x")
    eq(rc, 1, "ghost with the database down")
    check("file: unknown-user" in out and "mysql: backend-down" in out,
          "backend down: %r" % out)
    check("result: backend-down (module mysql)" in out, "verdict: %r" % out)
    rc, out, err = ctl(env, "auth", "test", odd, "x")
    check(rc == 1 and "file: scheme-unsupported" in out,
          "unknown scheme: %r" % out)
    S.try_login(env, odd, "x")
    env.wait_log(r"event=auth-reason user=%s .*module=file "
                 r"reason=scheme-unsupported" % re.escape(odd))
    S.try_login(env, "ghost@" + S.DOMAIN, "x", timeout=30)
    env.wait_log(r"event=auth-reason user=ghost@%s .*module=mysql "
                 r"reason=backend-down" % re.escape(S.DOMAIN))


# ---- config, stats, reload, stop -----------------------------------------

def test_ctl_config_stats_reload_stop(env):
    env.start(login_fail_max="5")
    rc, out, err = ctl(env, "config", "-n")
    eq(rc, 0, "config -n: %s" % err)
    check("login_fail_max = 5" in out, "changed key in -n: %r" % out)
    check("workers_max" not in out, "default key in -n: %r" % out)
    check("lock_conflict" not in out, "default lock_conflict in -n")
    rc, out, err = ctl(env, "config")
    check("workers_max = 256" in out and "lock_conflict = refuse" in out
          and "auth_verbose = no" in out and "login_fail_max = 5" in out,
          "full config: %r" % out[:2000])
    check("[file]" in out and "path = %s" % env.users_path in out,
          "module section in config")

    rc, out, err = ctl(env, "stats")
    eq(rc, 0, "stats: %s" % err)
    stats = dict(l.split(": ", 1) for l in out.splitlines() if ": " in l)
    eq(stats.get("auth_processes"), "1", "auth processes in %r" % stats)
    check(int(stats["workers_idle"]) >= 2, "idle workers: %r" % stats)
    eq(stats.get("sessions_logged_in"), "0", "no session yet")
    with env.session(list(env.users)[0]) as p:
        rc, out, err = ctl(env, "stats")
        check("sessions_logged_in: 1" in out, "one session: %r" % out)
        p.cmd("QUIT")

    mark = len(env.log())
    rc, out, err = ctl(env, "reload")
    eq(rc, 0, "reload: %s" % err)
    env.wait_log(r"reloaded: generation 1", start=mark)
    S.assert_login_ok(env, list(env.users)[0])

    rc, out, err = ctl(env, "stop")
    eq(rc, 0, "stop: %s" % err)
    env.proc.wait(15)
    eq(env.proc.returncode, 0, "satcheld exit status after stop")
    check(not os.path.exists(sock_path(env)), "control socket removed")
    rc, out, err = ctl(env, "who")
    check(rc != 0 and "is satcheld running" in err, "no daemon: %r" % err)


def test_ctl_root_only(env):
    """A non-root user cannot use the socket: not through its mode, and
    not past SO_PEERCRED when the mode is opened up by mistake."""
    env.start()
    runas = shutil.which("setpriv")
    if runas is None:
        raise S.Skip("setpriv not installed")
    nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup",
              "--clear-groups", "--"]
    # nobody cannot read the config either: give it the socket path.
    r = subprocess.run(nobody + [ctl_path(env), "-s", sock_path(env),
                                 "who"], capture_output=True, timeout=20)
    check(r.returncode != 0, "nobody ran who")
    check(b"root only" in r.stderr or b"ermission" in r.stderr,
          "refusal: %r" % r.stderr)
    os.chmod(sock_path(env), 0o666)
    os.chmod(env.dir, 0o755)
    r = subprocess.run(nobody + [ctl_path(env), "-s", sock_path(env),
                                 "stop"], capture_output=True, timeout=20)
    check(r.returncode != 0 and b"root only" in r.stderr,
          "SO_PEERCRED refusal: %r" % r.stderr)
    env.wait_log(r"control: connection from uid \d+ .*refused: root only")
    check(env.proc.poll() is None, "the daemon still runs")


# ---- lock_conflict ----------------------------------------------------------

def hold_with_dele(env, user):
    a = env.session(user)
    check(a.cmd("DELE 1").startswith("+OK"), "DELE 1 in the old session")
    return a


def test_ctl_takeover(env):
    """lock_conflict = takeover: B's login ends A's session (A's DELE not
    applied) and gets +OK within 1 s; the log names both sessions."""
    user = env.add_user("alice", messages=[S.simple_message(1),
                                           S.simple_message(2)])
    env.start(lock_conflict="takeover")
    before = env.files(user)
    a = hold_with_dele(env, user)
    b = env.client(source="127.0.0.2")
    check(b.cmd("USER " + user).startswith("+OK"), "USER")
    t0 = time.monotonic()
    r = b.cmd("PASS " + S.DEFAULT_PASSWORD)
    took = time.monotonic() - t0
    check(r.startswith("+OK"), "B's login: %r" % r)
    check(took < 1.0, "B got the lock in %.3f s (want < 1 s)" % took)
    check(r.startswith("+OK Logged in, 2 messages"), "B sees both: %r" % r)
    ra = a.line()
    check(ra.startswith("-ERR [IN-USE]"), "A told: %r" % ra)
    check(a.closed(), "A closed")
    ida, idb = session_ids(env, user)[-2:]
    env.wait_log(r"session=%s event=takeover user=%s addr=127\.0\.0\.2 "
                 r"old_session=%s old_addr=127\.0\.0\.1" % (
                     idb, re.escape(user), ida))
    env.wait_log(r"session=%s event=logout .*dele=0/0 .*reason=takeover"
                 % ida)
    eq(env.files(user), before, "A's DELE not applied")
    check(b.cmd("STAT").startswith("+OK 2 "), "B's STAT")
    b.cmd("QUIT")
    b.close()


def test_ctl_refuse_is_default(env):
    """Without lock_conflict, RFC 1939: the second login gets [IN-USE]
    and the first session goes on."""
    user = env.add_user("alice", messages=[S.simple_message(1)])
    env.start()
    a = env.session(user)
    with env.client() as b:
        b.cmd("USER " + user)
        r = b.cmd("PASS " + S.DEFAULT_PASSWORD)
        check(r.startswith("-ERR [IN-USE]"), "second login: %r" % r)
    check(a.cmd("STAT").startswith("+OK 1 "), "the first goes on")
    check("event=takeover" not in env.log(), "no takeover by default")
    a.cmd("QUIT")
    a.close()


# ---- auth_verbose -------------------------------------------------------------

def test_ctl_auth_verbose(env):
    user = env.add_user("alice", messages=[S.simple_message(1)])
    env.start(auth_verbose="yes")
    S.assert_login_refused(env, user, "wrong")
    env.wait_log(r"event=auth-reason user=%s addr=127\.0\.0\.1 mech=pass "
                 r"module=file reason=password-mismatch" % re.escape(user))
    S.assert_login_refused(env, "ghost@" + S.DOMAIN, "x")
    env.wait_log(r"event=auth-reason user=ghost@%s .*reason=unknown-user"
                 % re.escape(S.DOMAIN))
    # nologin in the passwd-file: disabled.
    pw, md = env.users[user]
    uid, gid = env.mail_pw.pw_uid, env.mail_pw.pw_gid
    with open(env.users_path, "w") as f:
        f.write("%s:%s:%d:%d::%s::nologin\n" % (user, pw, uid, gid, md))
    time.sleep(1.1)     # the module re-reads a file that changed
    S.assert_login_refused(env, user)
    env.wait_log(r"event=auth-reason user=%s .*reason=disabled"
                 % re.escape(user))
    check(S.DEFAULT_PASSWORD not in env.log(), "a password in the log")
