"""Every password scheme Dovecot's passwd-files hold, through the daemon.

A passwd-file with one user per scheme, each hash made at test time by
Dovecot's own `doveadm pw -s SCHEME -p PASS` (Debian's dovecot-core), and
a real POP3 login (USER/PASS) for each through satcheld: the right
password logs in and sees the user's mailbox, a wrong one is refused.
Also: a scheme Satchel does not know is refused with a log line naming
the scheme and what to do.
"""
import subprocess

import satchel as S
from satchel import check, try_login
from satchel import assert_login_ok as assert_ok
from satchel import assert_login_refused as assert_refused

SCHEMES = (
    "MD5-CRYPT", "MD5", "SHA", "SHA1", "SSHA", "SHA256", "SSHA256",
    "SHA512", "SSHA512", "SMD5", "PLAIN-MD5", "LDAP-MD5", "CRAM-MD5",
    "HMAC-MD5", "PBKDF2", "ARGON2I", "ARGON2ID", "SHA512-CRYPT",
    "SHA256-CRYPT", "BLF-CRYPT", "PLAIN", "CLEAR", "SCRAM-SHA-256",
    "SHA256.HEX", "SSHA.HEX", "SSHA512.HEX", "PLAIN-MD5.B64",
    "CRAM-MD5.B64", "PLAIN.B64",
)
PASSWORD = "Tr0ub4dor&3 'x'"


def doveadm_pw(scheme, password):
    r = subprocess.run(["doveadm", "-o", "log_path=/dev/null", "pw", "-s",
                        scheme, "-p", password], capture_output=True,
                       timeout=60)
    out = r.stdout.decode().strip()
    check(r.returncode == 0 and out.startswith("{"),
          "doveadm pw -s %s: %r %r" % (scheme, out, r.stderr[-200:]))
    return out


def need_doveadm():
    S.ensure_tool("doveadm", "dovecot-core")    # or Skip, with the reason


def local_name(scheme):
    return "u-" + scheme.lower().replace(".", "-")


def test_schemes_doveadm_login(env):
    need_doveadm()
    users = {}
    for scheme in SCHEMES:
        user = env.add_user(local_name(scheme),
                            messages=[S.simple_message(1)])
        stored = doveadm_pw(scheme, PASSWORD)
        env.users[user] = (stored, env.users[user][1])
        users[scheme] = user
    # A bare $1$ hash (postfixadmin's md5crypt), without a {SCHEME} tag.
    bare = env.add_user("u-bare-md5", messages=[S.simple_message(1)])
    env.users[bare] = (doveadm_pw("MD5-CRYPT", PASSWORD).split("}", 1)[1],
                       env.users[bare][1])
    users["bare $1$"] = bare
    env.write_users()
    env.start()
    bad = []
    for scheme, user in sorted(users.items()):
        r = try_login(env, user, PASSWORD)
        if not (r.startswith("+OK") and " | +OK 1 " in r):
            bad.append("%s: right password: %r" % (scheme, r))
        r = try_login(env, user, PASSWORD + "x")
        if not r.startswith("-ERR") or "[SYS/TEMP]" in r:
            bad.append("%s: wrong password: %r" % (scheme, r))
    check(not bad, "schemes failing through the daemon:\n  " +
          "\n  ".join(bad))


def test_schemes_unknown_is_named(env):
    user = env.add_user("ntlm")
    env.users[user] = ("{NTLM}8846f7eaee8fb117ad06bdd830b7586c",
                       env.users[user][1])
    ok = env.add_user("fine", messages=[S.simple_message(1)])
    env.write_users()
    env.start()
    start = len(env.log())
    assert_refused(env, user, "password")
    env.wait_log(r"unknown scheme \{NTLM\}.*rehash", start=start)
    assert_ok(env, ok, messages=1)
