"""What a session does to the Maildir on disk, UIDs, and the session
lock ([IN-USE])."""
import os
import time

from satchel import check, eq, relogin, simple_message, wait_for

MSGS = [simple_message(i) for i in range(1, 5)]


def test_dele_quit_deletes_file(env):
    user = env.add_user("alice", messages=MSGS)
    env.start()
    before = env.files(user)
    eq(len(before), 4, "files before")
    p = env.session(user)
    eq(p.cmd("DELE 2"), "+OK Message 2 deleted", "DELE 2")
    eq(p.cmd("DELE 4"), "+OK Message 4 deleted", "DELE 4")
    # nothing happens on disk before QUIT
    eq(env.files(user), before, "files before QUIT")
    eq(p.cmd("QUIT"), "+OK Logging out, 2 messages deleted", "QUIT")
    check(p.closed(), "not closed after QUIT")
    p.close()
    after = env.files(user)
    eq(len(after), 2, "files after DELE 2, DELE 4, QUIT: %r" % after)
    eq(sorted(env.contents(user)), sorted([MSGS[0], MSGS[2]]),
       "the messages left")
    env.wait_log(r"event=logout user=%s .*dele=2/" % user)


def test_dele_then_disconnect_deletes_nothing(env):
    user = env.add_user("alice", messages=MSGS)
    env.start()
    before = env.files(user)
    p = env.session(user)
    eq(p.cmd("DELE 1"), "+OK Message 1 deleted", "DELE 1")
    eq(p.cmd("DELE 3"), "+OK Message 3 deleted", "DELE 3")
    p.close()           # no QUIT
    env.wait_log(r"event=logout user=%s .*dele=0/0 left=4/" % user)
    # the agent is gone once the lock can be taken again
    q = relogin(env, user, "login after disconnect")
    eq(q.cmd("STAT").split()[:2], ["+OK", "4"], "STAT after disconnect")
    eq(q.cmd("QUIT"), "+OK Logging out, 0 messages deleted", "QUIT")
    q.close()
    eq(env.files(user), before, "files after DELE + disconnect")
    eq(sorted(env.contents(user)), sorted(MSGS), "contents")


def _uidl(env, user):
    p = env.session(user)
    st, lines = p.cmd_multi("UIDL")
    check(st.startswith("+OK"), "UIDL: %r" % st)
    return p, [l.split(" ", 1) for l in lines]


def test_uids_stable(env):
    user = env.add_user("alice", messages=MSGS[:2])
    # one in new/, with a size hint and no info part; one with flags
    env.put_message(user, "new", "1700000100.M9P9.other,S=123", MSGS[2])
    env.put_message(user, "cur", "1700000200.M8P8.other:2,RS", MSGS[3])
    env.start()
    p, first = _uidl(env, user)
    eq(len(first), 4, "UIDL count")
    uids = [u for _, u in first]
    eq(len(set(uids)), 4, "UIDs unique: %r" % uids)
    check("1700000100.M9P9.other" in uids and
          "1700000200.M8P8.other" in uids,
          "UIDs are not the unique part of the base name: %r" % uids)
    eq(p.cmd("QUIT")[:3], "+OK", "QUIT")
    p.close()

    # second session: same list (even though new/ moved to cur/)
    p, second = _uidl(env, user)
    eq(second, first, "UIDL in the second session")
    eq(p.cmd("DELE 1"), "+OK Message 1 deleted", "DELE 1")
    eq(p.cmd("DELE 3"), "+OK Message 3 deleted", "DELE 3")
    eq(p.cmd("QUIT"), "+OK Logging out, 2 messages deleted", "QUIT")
    p.close()

    p, third = _uidl(env, user)
    eq([u for _, u in third], [uids[1], uids[3]],
       "UIDs after deleting others")
    eq(p.cmd("QUIT")[:3], "+OK", "QUIT")
    p.close()


def test_new_moved_to_cur(env):
    user = env.add_user("alice", messages=[MSGS[0]])
    env.put_message(user, "new", "1700000100.M9P9.satchel-test", MSGS[1])
    env.start()
    eq(env.files(user, "new"), ["new/1700000100.M9P9.satchel-test"],
       "new/ before")
    p = env.session(user)
    eq(p.cmd("STAT").split()[:2], ["+OK", "2"], "STAT")
    eq(env.files(user, "new"), ["new/1700000100.M9P9.satchel-test"],
       "new/ during the session")
    eq(p.cmd("QUIT"), "+OK Logging out, 0 messages deleted", "QUIT")
    p.close()
    eq(env.files(user, "new"), [], "new/ after the session")
    cur = env.files(user, "cur")
    moved = [f for f in cur if f.startswith("cur/1700000100.M9P9."
                                            "satchel-test")]
    eq(len(moved), 1, "message moved to cur/: %r" % cur)
    check(":2," in moved[0], "no info part in %r" % moved[0])
    with open(os.path.join(env.maildir(user), moved[0]), "rb") as f:
        eq(f.read(), MSGS[1], "moved message content")


def test_in_use(env):
    user = env.add_user("alice", messages=MSGS)
    env.start()
    p1 = env.session(user)
    with env.client() as p2:
        eq(p2.cmd("USER " + user), "+OK", "USER")
        r = p2.cmd("PASS s3cret-pw")
        eq(r, "-ERR [IN-USE] Mailbox is locked by another POP3 session",
           "second login")
        eq(p2.cmd("STAT"), "-ERR Not logged in yet", "STAT after IN-USE")
    eq(p1.cmd("STAT").split()[:2], ["+OK", "4"], "first session alive")
    eq(p1.cmd("QUIT"), "+OK Logging out, 0 messages deleted", "QUIT")
    p1.close()
    # straight after QUIT's +OK, the lock must be free
    t0 = time.monotonic()
    p3 = env.client()
    r = p3.login(user)
    eq(r, "+OK Logged in, 4 messages (%d octets)" % sum(
        len(m.replace(b"\n", b"\r\n")) for m in MSGS),
       "login right after the first session's QUIT (%.3f s later)"
       % (time.monotonic() - t0))
    eq(p3.cmd("QUIT")[:3], "+OK", "QUIT")
    p3.close()
    env.wait_log(r"event=mailbox user=%s result=in-use" % user)


def test_lock_released_before_quit_reply(env):
    # RFC 1939 section 6: in UPDATE the server removes the messages,
    # releases the lock, *then* replies.  A client that logs in again as
    # soon as it has read "+OK" after QUIT must never see [IN-USE].
    user = env.add_user("alice", messages=[simple_message(1)], plain=True)
    env.start()
    p = env.session(user)
    in_use, tries = 0, 0
    deadline = time.monotonic() + 15
    while tries < 200 and time.monotonic() < deadline:
        tries += 1
        eq(p.cmd("QUIT"), "+OK Logging out, 0 messages deleted", "QUIT")
        p.close()
        p = env.client()
        p.send("USER %s\r\nPASS s3cret-pw\r\n" % user)
        eq(p.line(), "+OK", "USER")
        r = p.line()
        if not r.startswith("+OK"):
            check("[IN-USE]" in r, "login: %r" % r)
            in_use += 1
            p.close()
            p = wait_for(lambda: _try_login(env, user), 5, 0.05,
                         "the lock to be released")
    eq(p.cmd("QUIT")[:3], "+OK", "last QUIT")
    p.close()
    eq(in_use, 0, "logins refused with [IN-USE] right after the previous "
       "session's QUIT +OK, out of %d" % tries)


def _try_login(env, user):
    q = env.client()
    if q.login(user).startswith("+OK"):
        return q
    q.close()
    return None
