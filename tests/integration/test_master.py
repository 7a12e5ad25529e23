"""Master users (issue 14): a login as "target*master" with USER/PASS
(auth_master_user_separator) or AUTH PLAIN with authzid target and
authcid master (RFC 4616) checks the master's password against the
master passdb only ("master = yes" in a module's section) and opens the
target's mailbox; and proxying with a master user, where the front logs
in at a Satchel backend as destuser with the master= and pass= passdb
fields, in the auth process, so the master password never reaches a
front worker.

The master passdb is a real MariaDB (test_mysql's shared server, table
masters); ordinary users are the harness's passwd-file.
"""
import base64
import os
import re
import time

import satchel as S
from satchel import check, eq

PW = S.DEFAULT_PASSWORD
MASTER = "admin"
MASTER_PW = "Master-Secret-7f3a9c"


def _plain(authz, authc, pw):
    return base64.b64encode(("%s\0%s\0%s" % (authz, authc, pw)).encode()) \
        .decode()


def _masters(db, rows):
    db.sql("CREATE TABLE IF NOT EXISTS masters (username varchar(255) "
           "PRIMARY KEY, password varchar(255) NOT NULL)", db="mail")
    db.sql("DELETE FROM masters", db="mail")
    import test_mysql as M
    for name, pw in rows:
        db.sql("INSERT INTO masters VALUES (%s, %s)" % (
            M.lit(name), M.lit("{PLAIN}" + pw)), db="mail")


def start_with_masters(env, **over):
    """env with auth = file mysql, [mysql] master = yes holding admin."""
    import test_mysql as M
    M.need_mysql(env)
    db = M.shared_db()
    _masters(db, [(MASTER, MASTER_PW)])
    q = "SELECT password FROM masters WHERE username = %u"
    over.setdefault("auth_master_user_separator", "*")
    M.start_mysql(env, "file mysql", M.mysql_section(env, db, query=q,
                  extra="master = yes\n"), keep_file=True, **over)
    return db


def _retr1(p):
    st, lines = p.cmd_multi("RETR 1")
    check(st.startswith("+OK"), "RETR 1: %r" % st)
    return "\n".join(lines)


def test_master_user_logins(env):
    """USER target*master and AUTH PLAIN authzid=target open the
    target's mailbox with the master's password; the log names both."""
    alice = env.add_user("alice", messages=[S.simple_message(1,
                         b"alice's own mail")])
    start_with_masters(env)
    with env.client() as p:
        r = p.login("%s*%s" % (alice, MASTER), MASTER_PW)
        check(r.startswith("+OK"), "USER alice*admin: %r" % r)
        check("alice's own mail" in _retr1(p), "alice's mailbox opened")
        eq(p.cmd("QUIT")[:3], "+OK", "QUIT")
    env.wait_log(r"event=auth user=%s master=%s method=pass result=ok"
                 % (re.escape(alice), MASTER))
    with env.client() as p:
        r = p.cmd("AUTH PLAIN " + _plain(alice, MASTER, MASTER_PW))
        check(r.startswith("+OK"), "AUTH PLAIN authzid=alice: %r" % r)
        check("alice's own mail" in _retr1(p), "alice's mailbox via PLAIN")
        p.cmd("QUIT")
    env.wait_log(r"event=auth user=%s master=%s method=plain result=ok"
                 % (re.escape(alice), MASTER))
    # The target's own password still works the ordinary way.
    S.assert_login_ok(env, alice, PW, messages=1)


def test_master_user_refusals(env):
    """A wrong master password, an unknown target, a master logging in
    as itself, a master name at an ordinary login, and a target's own
    password as the master's: all the same -ERR [AUTH]; the failure log
    line names target and master."""
    alice = env.add_user("alice", messages=[S.simple_message(1)])
    start_with_masters(env)
    cases = [("%s*%s" % (alice, MASTER), "wrong-" + MASTER_PW),
             ("nobody@%s*%s" % (S.DOMAIN, MASTER), MASTER_PW),
             ("%s*%s" % (MASTER, MASTER), MASTER_PW),
             (MASTER, MASTER_PW),
             ("%s*%s" % (alice, alice), PW)]
    for user, pw in cases:
        r = S.try_login(env, user, pw)
        eq(r, "-ERR [AUTH] Authentication failed", "login %r" % user)
    env.wait_log(r"event=auth-check user=%s addr=127\.0\.0\.1 mech=pass "
                 r"result=fail failures=\d+ delay_ms=\d+ master=%s"
                 % (re.escape(alice), MASTER))
    env.wait_log(r"event=auth user=%s method=pass addr=127\.0\.0\.1 "
                 r"result=fail reason=bad-credentials failures=\d+ "
                 r"master=%s" % (re.escape(alice), MASTER))
    check(MASTER_PW not in env.log(), "the master password is not logged")
    # With AUTH PLAIN: the same answer for a wrong master password.
    with env.client() as p:
        r = p.cmd("AUTH PLAIN " + _plain(alice, MASTER, "nope"))
        eq(r, "-ERR [AUTH] Authentication failed", "PLAIN, wrong master")


def test_master_plaintext_rules_apply(env):
    """disable_plaintext_auth holds for master logins as for any other:
    from an untrusted address without TLS, USER and AUTH PLAIN are
    refused before a password is asked."""
    alice = env.add_user("alice", messages=[S.simple_message(1)])
    start_with_masters(env, disable_plaintext_auth="yes",
                       trusted_networks="none")
    with env.client() as p:
        r = p.cmd("USER %s*%s" % (alice, MASTER))
        check(r.startswith("-ERR"), "USER over plaintext: %r" % r)
        r = p.cmd("AUTH PLAIN " + _plain(alice, MASTER, MASTER_PW))
        check(r.startswith("-ERR"), "AUTH PLAIN over plaintext: %r" % r)


def test_master_plain_authzid_refused_without_master(env):
    """No master passdb: an AUTH PLAIN authzid other than the authcid
    is refused as malformed (as before master users), and a separator
    in USER is just part of an unknown name."""
    alice = env.add_user("alice", messages=[S.simple_message(1)])
    env.add_user("admin", password=MASTER_PW)
    env.start()
    with env.client() as p:
        r = p.cmd("AUTH PLAIN " + _plain(alice, "admin@" + S.DOMAIN,
                                          MASTER_PW))
        eq(r, "-ERR Malformed PLAIN response", "authzid, no master passdb")
        # authzid equal to authcid is no authzid at all.
        r = p.cmd("AUTH PLAIN " + _plain(alice, alice, PW))
        check(r.startswith("+OK"), "authzid == authcid: %r" % r)
    r = S.try_login(env, "%s*admin@%s" % (alice, S.DOMAIN), MASTER_PW)
    eq(r, "-ERR [AUTH] Authentication failed", "no separator configured")


# ---- proxying with a master user ----------------------------------------

CLIENT = "127.0.0.9"


def _master_backend(users):
    """A backend Satchel with master users (admin), a `haproxy` listener
    trusting the front (127.0.0.1), and users {local: body}."""
    b = S.Env()
    try:
        for local, body in users.items():
            b.add_user(local, password="backend-own-" + local,
                       messages=[S.simple_message(1, body)])
        b.port = S.free_port()
        start_with_masters(b, listen="127.0.0.1:%d haproxy" % b.port,
                           haproxy_trusted_networks="127.0.0.1")
    except BaseException:
        b.cleanup()
        raise
    return b


def _front(env, lines, **over):
    env.users = {"(written by _front)": None}
    with open(env.users_path, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(env.users_path, 0o640)
    import test_tls as T
    over.setdefault("sasl", T.ALL_MECHS)
    env.start(apop="yes", **over)


def _proxy_workers(env):
    return [pid for pid, c in env.children().items()
            if c.startswith("satcheld: worker") and "proxy" in c]


def test_master_proxy_scram_and_apop_users(env):
    """A SCRAM-SHA-256 user and an APOP user of the front, whose own
    passwords the front cannot relay, are proxied via the master user:
    the auth process logs in at the backend with AUTH PLAIN (authzid
    the user, authcid admin) after a PROXY v2 header; the client RETRs
    its backend mail; the relaying worker's memory holds no master
    password."""
    import test_mysql as M
    import test_tls as T
    M.need_mysql(env)
    dom = S.DOMAIN
    b = _master_backend({"alice": b"alice on the BACKEND",
                         "bob": b"bob on the BACKEND"})
    try:
        extras = ("proxy=y host=127.0.0.1 port=%d master=%s pass=%s"
                  % (b.port, MASTER, MASTER_PW))
        _front(env, [
            "alice@%s:%s::::::%s" % (dom, T._scram_stored("alice-scram"),
                                     extras),
            "bob@%s:{PLAIN}bob-apop::::::%s" % (dom, extras)])
        import test_fit as F
        for who in ("alice", "bob"):
            with S.Pop(env.port, source=CLIENT) as p:
                if who == "alice":
                    r, _ = T._scram(p, "alice@" + dom, "alice-scram")
                else:
                    r = F._apop(p, "bob@" + dom, "bob-apop")
                check(r.startswith("+OK"), "%s via the front: %r"
                      % (who, r))
                st, lines = p.cmd_multi("RETR 1")
                check(st.startswith("+OK"), "RETR 1: %r" % st)
                check(("%s on the BACKEND" % who) in "\n".join(lines),
                      "%s's backend mail" % who)
                workers = _proxy_workers(env)
                eq(len(workers), 1, "one proxying worker")
                from test_proxy import _memory
                mem = _memory(workers[0])
                check(len(mem) > 100000, "read the worker's memory")
                check(MASTER_PW.encode() not in mem and
                      base64.b64encode(("%s@%s\0%s\0%s" % (
                          who, dom, MASTER, MASTER_PW)).encode())
                      not in mem,
                      "the master password never reached the worker")
                eq(p.cmd("QUIT")[:3], "+OK", "QUIT through the proxy")
            b.wait_log(r"event=auth user=%s@\S+ master=%s method=plain "
                       r"result=ok tls=no addr=127\.0\.0\.9" % (who, MASTER))
            env.wait_log(r"event=proxy user=%s@\S+ destuser=%s@\S+ "
                         r"backend=127\.0\.0\.1:%d result=ok ssl=no "
                         r"haproxy=pool login=master" % (who, who, b.port))
        check(MASTER_PW not in env.log() and MASTER_PW not in b.log(),
              "no master password in either log")
    finally:
        b.cleanup()


def test_master_proxy_refusals(env):
    """A wrong master password at the backend: [SYS/TEMP] for the client
    and a log line at the front with the backend's answer; master= with
    ssl=: [SYS/PERM] and a clear log line (a TLS session cannot be handed
    from the auth process to the worker); master= without pass=: the
    same."""
    import test_mysql as M
    M.need_mysql(env)
    dom = S.DOMAIN
    b = _master_backend({"alice": b"x", "carol": b"y", "dave": b"z"})
    try:
        _front(env, [
            "alice@%s:{PLAIN}pw1::::::proxy=y host=127.0.0.1 port=%d "
            "master=%s pass=wrong-master" % (dom, b.port, MASTER),
            "carol@%s:{PLAIN}pw2::::::proxy=y host=127.0.0.1 port=%d "
            "ssl=starttls master=%s pass=%s" % (dom, b.port, MASTER,
                                                MASTER_PW),
            "dave@%s:{PLAIN}pw3::::::proxy=y host=127.0.0.1 port=%d "
            "master=%s" % (dom, b.port, MASTER)])
        r = S.try_login(env, "alice@" + dom, "pw1")
        check(r.startswith("-ERR [SYS/TEMP]"), "wrong master pw: %r" % r)
        env.wait_log(r"event=proxy user=alice@\S+ backend=127\.0\.0\.1:%d "
                     r"result=fail reason=master-login error=\"AUTH PLAIN "
                     r"as master refused: -ERR \[AUTH\]" % b.port)
        b.wait_log(r"event=auth user=alice@\S+ method=plain "
                   r"addr=127\.0\.0\.1 result=fail .*master=%s" % MASTER)
        r = S.try_login(env, "carol@" + dom, "pw2")
        check(r.startswith("-ERR [SYS/PERM]"), "master with ssl: %r" % r)
        env.wait_log(r"event=proxy user=carol@\S+ result=error "
                     r"reason=master-with-ssl")
        r = S.try_login(env, "dave@" + dom, "pw3")
        check(r.startswith("-ERR [SYS/PERM]"), "master, no pass: %r" % r)
        env.wait_log(r"event=proxy user=dave@\S+ result=error "
                     r"reason=master-without-pass")
        check("carol" not in b.log() and "dave" not in b.log(),
              "refused before any connection to the backend")
    finally:
        b.cleanup()


def test_master_proxy_mysql_columns(env):
    """master and pass as mysql result columns (next to proxy, host,
    port): a front user in MariaDB is proxied via the master user even
    with USER/PASS, and its own password never reaches the backend."""
    import test_mysql as M
    M.need_mysql(env)
    b = _master_backend({"erin": b"erin on the BACKEND"})
    try:
        db = M.shared_db()
        M.clear_users(env, [db])
        M.add_mysql_user(env, [db], "erin", password="erin-front-pw")
        q = ("SELECT password, CONCAT('maildir:', %s, maildir) AS mail, "
             "active, 'Y' AS proxy, '127.0.0.1' AS host, %d AS port, "
             "%s AS master, %s AS pass FROM mailbox WHERE username = %%u"
             % (M.lit(env.mail + "/"), b.port, M.lit(MASTER),
                M.lit(MASTER_PW)))
        M.start_mysql(env, "mysql", M.mysql_section(env, db, query=q))
        with S.Pop(env.port, source=CLIENT) as p:
            r = p.login("erin@" + S.DOMAIN, "erin-front-pw")
            check(r.startswith("+OK"), "erin via the front: %r" % r)
            st, lines = p.cmd_multi("RETR 1")
            check(st.startswith("+OK") and
                  "erin on the BACKEND" in "\n".join(lines),
                  "erin's backend mail: %r" % st)
            p.cmd("QUIT")
        b.wait_log(r"event=auth user=erin@\S+ master=%s method=plain "
                   r"result=ok" % MASTER)
        env.wait_log(r"event=proxy user=erin@\S+ .*result=ok ssl=no "
                     r"haproxy=pool login=master")
    finally:
        M.clear_users(env, [M.shared_db()])
        b.cleanup()
