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
