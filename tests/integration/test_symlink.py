"""Issue 11: no symlink is followed inside a mailbox.  A user's Maildir
`cur` is a symlink to a directory the agent can read through
mail_extra_groups (root:mail, mode 0750, holding a root:mail 0640 file):
the login fails with [SYS/PERM] (so RETR and DELE never reach the file),
nothing outside is read or unlinked, and the log names the refusal."""
import grp
import os
import shutil

from satchel import DEFAULT_PASSWORD, Skip, check, eq, simple_message, \
    try_login

SECRET = b"Subject: root only\r\n\r\nnot for POP3 users\r\n"


def _outside(env):
    try:
        mail_gid = grp.getgrnam("mail").gr_gid
    except KeyError:
        raise Skip("no group 'mail'")
    out = os.path.join(env.dir, "outside")
    os.mkdir(out, 0o750)
    os.chown(out, 0, mail_gid)
    secret = os.path.join(out, "1700000000.M1P1.secret:2,")
    with open(secret, "wb") as f:
        f.write(SECRET)
    os.chown(secret, 0, mail_gid)
    os.chmod(secret, 0o640)
    return out, secret


def test_symlinked_cur_is_refused(env):
    out, secret = _outside(env)
    user = env.add_user("alice", messages=[simple_message(1)])
    cur = os.path.join(env.maildir(user), "cur")
    shutil.rmtree(cur)
    os.symlink(out, cur)
    env.start(mail_extra_groups="mail")
    with env.client() as p:
        eq(p.cmd("USER " + user)[:3], "+OK", "USER")
        r = p.cmd("PASS " + DEFAULT_PASSWORD)
        if r.startswith("+OK"):
            # The attack as it was: RETR and DELE must not reach out.
            retr = p.cmd("RETR 1")
            if retr.startswith("+OK"):
                p.drain_lines()
            dele = p.cmd("DELE 1")
            p.cmd("QUIT")
            check(False, "login through a symlinked cur/ worked: RETR "
                  "%r, DELE %r" % (retr, dele))
        check(r.startswith("-ERR [SYS/PERM]"), "PASS: %r" % r)
    check(os.path.exists(secret), "the outside file was unlinked")
    with open(secret, "rb") as f:
        eq(f.read(), SECRET, "the outside file")
    env.wait_log(r"cur: refused: a symbolic link")


def test_symlinked_message_is_not_served(env):
    out, secret = _outside(env)
    user = env.add_user("bob", messages=[simple_message(1)])
    os.symlink(secret, os.path.join(env.maildir(user), "cur",
                                    "1700000001.M2P2.link:2,"))
    env.start(mail_extra_groups="mail")
    r = try_login(env, user, DEFAULT_PASSWORD)
    # The symlink is not a message: one message, the real one.
    check(r.startswith("+OK") and " | +OK 1 " in r, "login: %r" % r)
    check(os.path.exists(secret), "the outside file was unlinked")
