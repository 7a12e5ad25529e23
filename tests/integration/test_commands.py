"""RFC 1939 / RFC 2449 commands and their errors, over python's poplib
and a raw socket, against a real satcheld with file auth and Maildir."""
import poplib
import time

from satchel import (DEFAULT_PASSWORD, TRICKY, Pop, check, crlf, rfc_size,
                     eq, simple_message, wire, wire_lines)

MSGS = [TRICKY, simple_message(2), simple_message(3, body=b".dotted")]
SIZES = [rfc_size(m) for m in MSGS]
TOTAL = sum(SIZES)
UIDS = ["%d.M%dP%d.satchel-test" % (1700000000 + i, i + 1, 1000 + i)
        for i in range(len(MSGS))]


def setup(env, **conf):
    user = env.add_user("alice", messages=MSGS)
    env.start(**conf)
    return user


def logged_in(env, user):
    p = env.client()
    eq(p.login(user), "+OK Logged in, 3 messages (%d octets)" % TOTAL,
       "PASS reply")
    return p


def test_user_pass_raw(env):
    user = setup(env)
    with env.client() as p:
        eq(p.greeting, "+OK Satchel ready.", "greeting")
        eq(p.cmd("USER " + user), "+OK", "USER")
        eq(p.cmd("PASS " + DEFAULT_PASSWORD),
           "+OK Logged in, 3 messages (%d octets)" % TOTAL, "PASS")
        eq(p.cmd("QUIT"), "+OK Logging out, 0 messages deleted", "QUIT")
        check(p.closed(), "connection not closed after QUIT")


def test_user_pass_poplib(env):
    user = setup(env)
    p = poplib.POP3("127.0.0.1", env.port, timeout=10)
    try:
        check(p.getwelcome().startswith(b"+OK"), p.getwelcome())
        eq(p.user(user), b"+OK", "USER")
        check(p.pass_(DEFAULT_PASSWORD).startswith(b"+OK Logged in"),
              "PASS failed")
        eq(p.stat(), (3, TOTAL), "STAT")
    finally:
        p.quit()


def test_wrong_password(env):
    user = setup(env)
    with env.client() as p:
        eq(p.cmd("USER " + user), "+OK", "USER")
        eq(p.cmd("PASS wrong-" + DEFAULT_PASSWORD),
           "-ERR [AUTH] Authentication failed", "PASS with a bad password")
        # still in AUTHORIZATION: a transaction command is refused
        eq(p.cmd("STAT"), "-ERR Not logged in yet", "STAT after bad PASS")
        # and the right password still works on the same connection
        eq(p.cmd("USER " + user), "+OK", "USER again")
        check(p.cmd("PASS " + DEFAULT_PASSWORD).startswith("+OK"),
              "good PASS after a bad one refused")
    pp = poplib.POP3("127.0.0.1", env.port, timeout=10)
    try:
        pp.user(user)
        try:
            pp.pass_("nope")
            raise AssertionError("poplib login with bad password worked")
        except poplib.error_proto as e:
            eq(e.args[0], b"-ERR [AUTH] Authentication failed", "poplib")
    finally:
        pp.close()


def _timed_fail(port, source, user, password):
    with Pop(port, source=source) as p:
        eq(p.cmd("USER " + user), "+OK", "USER %s" % user)
        p.send("PASS %s\r\n" % password)
        t0 = time.monotonic()
        r = p.line()
        return r, time.monotonic() - t0


def test_unknown_user_same_as_wrong_password(env):
    # Different client addresses, so that neither attempt is slowed by
    # the other's per-address failure count.
    user = setup(env, login_fail_delay_ms=300)
    r1, t1 = _timed_fail(env.port, "127.0.0.2", user, "wrong")
    r2, t2 = _timed_fail(env.port, "127.0.0.3", "nobody@test.example",
                         "wrong")
    r3, t3 = _timed_fail(env.port, "127.0.0.4", "nodomain", "wrong")
    eq(r2, r1, "reply for an unknown user vs a wrong password")
    eq(r3, r1, "reply for an unknown user without domain")
    eq(r1, "-ERR [AUTH] Authentication failed", "reply")
    for t, what in ((t1, "wrong password"), (t2, "unknown user"),
                    (t3, "unknown user without domain")):
        check(t >= 0.28, "%s answered in %.3f s, before the 300 ms "
              "failure delay" % (what, t))
    check(abs(t1 - t2) < 0.25 and abs(t1 - t3) < 0.25,
          "timing differs: wrong password %.3f s, unknown user %.3f s / "
          "%.3f s" % (t1, t2, t3))


def test_stat(env):
    user = setup(env)
    with logged_in(env, user) as p:
        eq(p.cmd("STAT"), "+OK 3 %d" % TOTAL, "STAT")
        eq(p.cmd("STAT 1"), "-ERR STAT takes no argument", "STAT 1")


def test_list(env):
    user = setup(env)
    with logged_in(env, user) as p:
        st, lines = p.cmd_multi("LIST")
        eq(st, "+OK 3 messages (%d octets)" % TOTAL, "LIST")
        eq(lines, ["%d %d" % (i + 1, s) for i, s in enumerate(SIZES)],
           "LIST lines")
        for i, s in enumerate(SIZES):
            eq(p.cmd("LIST %d" % (i + 1)), "+OK %d %d" % (i + 1, s),
               "LIST %d" % (i + 1))
        eq(p.cmd("QUIT"), "+OK Logging out, 0 messages deleted", "QUIT")
    pp = poplib.POP3("127.0.0.1", env.port, timeout=10)
    try:
        pp.user(user)
        pp.pass_(DEFAULT_PASSWORD)
        resp, lines, _ = pp.list()
        eq(lines, [b"%d %d" % (i + 1, s) for i, s in enumerate(SIZES)],
           "poplib list")
        eq(pp.list(2), b"+OK 2 %d" % SIZES[1], "poplib list 2")
    finally:
        pp.quit()


def test_list_bad_numbers(env):
    user = setup(env)
    with logged_in(env, user) as p:
        for arg in ("0", "-1", "99", "4", "abc", "1x", "+1", "0x1",
                    "18446744073709551617"):
            eq(p.cmd("LIST " + arg), "-ERR No such message", "LIST " + arg)
        eq(p.cmd("LIST 1 2"), "-ERR Too many arguments", "LIST 1 2")
        eq(p.cmd("STAT"), "+OK 3 %d" % TOTAL, "STAT after bad LISTs")


def test_retr_byte_exact(env):
    user = setup(env)
    with logged_in(env, user) as p:
        for i, m in enumerate(MSGS):
            eq(p.cmd("RETR %d" % (i + 1)), "+OK %d octets" % SIZES[i],
               "RETR %d" % (i + 1))
            eq(p.raw_multiline(), wire(m), "RETR %d body" % (i + 1))
        # the tricky one, spelled out once so the helper is checked too
        p.send("RETR 1\r\n")
        p.line()
        body = p.raw_multiline()
        check(b"\r\n..\r\n...\r\n..x\r\nbare\rCR inside\r\nFrom me\r\n"
              b"crlf line\r\nlast line without newline\r\n.\r\n" in body,
              "dot-stuffing / CRLF conversion wrong: %r" % body)
        check(b"\r\r\n" not in body and b"\n\n" not in body,
              "doubled line ends: %r" % body)
        eq(p.cmd("RETR 4"), "-ERR No such message", "RETR 4")
        eq(p.cmd("RETR"), "-ERR Usage: RETR message", "RETR")


def test_retr_poplib(env):
    user = setup(env)
    pp = poplib.POP3("127.0.0.1", env.port, timeout=10)
    try:
        pp.user(user)
        pp.pass_(DEFAULT_PASSWORD)
        for i, m in enumerate(MSGS):
            resp, lines, octets = pp.retr(i + 1)
            eq(resp, b"+OK %d octets" % SIZES[i], "poplib retr resp")
            eq(lines, wire_lines(m), "poplib retr %d lines" % (i + 1))
    finally:
        pp.quit()


def test_top(env):
    user = setup(env)
    with logged_in(env, user) as p:
        eq(p.cmd("TOP 1 0"), "+OK Top of message follows", "TOP 1 0")
        eq(p.raw_multiline(), wire(TRICKY, top=0), "TOP 1 0 body")
        eq(p.cmd("TOP 1 2"), "+OK Top of message follows", "TOP 1 2")
        eq(p.raw_multiline(), wire(TRICKY, top=2), "TOP 1 2 body")
        check(wire(TRICKY, top=2).endswith(b"first body line\r\n..\r\n"
                                           b".\r\n"), "helper")
        eq(p.cmd("TOP 2 1000"), "+OK Top of message follows", "TOP 2 1000")
        eq(p.raw_multiline(), wire(MSGS[1]), "TOP 2 1000 body")
        eq(p.cmd("TOP 1 x"), "-ERR Invalid number of lines", "TOP 1 x")
        eq(p.cmd("TOP 1"), "-ERR Usage: TOP message lines", "TOP 1")
        eq(p.cmd("TOP 9 0"), "-ERR No such message", "TOP 9 0")
        eq(p.cmd("NOOP"), "+OK", "NOOP after TOPs")


def test_uidl(env):
    user = setup(env)
    with logged_in(env, user) as p:
        st, lines = p.cmd_multi("UIDL")
        eq(st, "+OK Unique-ID listing follows", "UIDL")
        eq(lines, ["%d %s" % (i + 1, u) for i, u in enumerate(UIDS)],
           "UIDL lines")
        eq(p.cmd("UIDL 2"), "+OK 2 %s" % UIDS[1], "UIDL 2")
        eq(p.cmd("UIDL 0"), "-ERR No such message", "UIDL 0")
        eq(p.cmd("UIDL x"), "-ERR No such message", "UIDL x")


def test_dele(env):
    user = setup(env)
    with logged_in(env, user) as p:
        eq(p.cmd("DELE 2"), "+OK Message 2 deleted", "DELE 2")
        eq(p.cmd("STAT"), "+OK 2 %d" % (TOTAL - SIZES[1]), "STAT")
        st, lines = p.cmd_multi("LIST")
        eq(st, "+OK 2 messages (%d octets)" % (TOTAL - SIZES[1]), "LIST")
        eq(lines, ["1 %d" % SIZES[0], "3 %d" % SIZES[2]], "LIST lines")
        st, lines = p.cmd_multi("UIDL")
        eq(lines, ["1 %s" % UIDS[0], "3 %s" % UIDS[2]], "UIDL lines")
        eq(p.cmd("LIST 2"), "-ERR Message 2 is deleted", "LIST 2")
        eq(p.cmd("DELE 2"), "-ERR Message 2 is deleted", "DELE 2 again")
        eq(p.cmd("RETR 2"), "-ERR Message 2 is deleted", "RETR 2")
        eq(p.cmd("TOP 2 0"), "-ERR Message 2 is deleted", "TOP 2 0")
        eq(p.cmd("DELE 7"), "-ERR No such message", "DELE 7")
        eq(p.cmd("RETR 3"), "+OK %d octets" % SIZES[2], "RETR 3")
        eq(p.raw_multiline(), wire(MSGS[2]), "RETR 3 body")


def test_rset(env):
    user = setup(env)
    with logged_in(env, user) as p:
        eq(p.cmd("DELE 1"), "+OK Message 1 deleted", "DELE 1")
        eq(p.cmd("DELE 3"), "+OK Message 3 deleted", "DELE 3")
        eq(p.cmd("STAT"), "+OK 1 %d" % SIZES[1], "STAT")
        eq(p.cmd("RSET"), "+OK 3 messages (%d octets)" % TOTAL, "RSET")
        eq(p.cmd("STAT"), "+OK 3 %d" % TOTAL, "STAT after RSET")
        eq(p.cmd("LIST 1"), "+OK 1 %d" % SIZES[0], "LIST 1 after RSET")
        eq(p.cmd("QUIT"), "+OK Logging out, 0 messages deleted", "QUIT")
    eq(len(env.files(user)), 3, "files after RSET+QUIT")


def test_noop_quit(env):
    user = setup(env)
    with logged_in(env, user) as p:
        eq(p.cmd("NOOP"), "+OK", "NOOP")
        eq(p.cmd("QUIT"), "+OK Logging out, 0 messages deleted", "QUIT")
        check(p.closed(), "not closed after QUIT")
    with env.client() as p:
        eq(p.cmd("QUIT"), "+OK Bye", "QUIT before login")
        check(p.closed(), "not closed after QUIT before login")


def test_wrong_state(env):
    user = setup(env)
    with env.client() as p:
        for c in ("STAT", "LIST", "LIST 1", "RETR 1", "DELE 1", "NOOP",
                  "RSET", "TOP 1 0", "UIDL"):
            eq(p.cmd(c), "-ERR Not logged in yet", c + " before login")
        eq(p.cmd("PASS " + DEFAULT_PASSWORD), "-ERR USER first",
           "PASS without USER")
        eq(p.cmd("USER " + user), "+OK", "USER")
        check(p.cmd("PASS " + DEFAULT_PASSWORD).startswith("+OK"), "PASS")
        for c in ("USER " + user, "PASS x", "APOP %s %s" % (user, "0" * 32)):
            eq(p.cmd(c), "-ERR Command not valid after login",
               c.split()[0] + " after login")
        eq(p.cmd("STAT"), "+OK 3 %d" % TOTAL, "STAT still works")


def test_unknown_command(env):
    user = setup(env)
    with env.client() as p:
        for c in ("FOO", "XYZZY", "HELO x", "1234", " STAT"):
            eq(p.cmd(c), "-ERR Unknown command", repr(c))
        eq(p.cmd("USER " + user), "+OK", "USER after unknown commands")
        check(p.cmd("PASS " + DEFAULT_PASSWORD).startswith("+OK"), "PASS")
        eq(p.cmd("BLAH 1"), "-ERR Unknown command", "after login")
        eq(p.cmd("NOOP"), "+OK", "NOOP")


def test_lowercase_commands(env):
    user = setup(env)
    with env.client() as p:
        eq(p.cmd("user " + user), "+OK", "user")
        eq(p.cmd("pass " + DEFAULT_PASSWORD),
           "+OK Logged in, 3 messages (%d octets)" % TOTAL, "pass")
        eq(p.cmd("stat"), "+OK 3 %d" % TOTAL, "stat")
        eq(p.cmd("list 2"), "+OK 2 %d" % SIZES[1], "list 2")
        eq(p.cmd("Uidl 3"), "+OK 3 %s" % UIDS[2], "Uidl 3")
        eq(p.cmd("rEtR 2"), "+OK %d octets" % SIZES[1], "rEtR 2")
        eq(p.raw_multiline(), wire(MSGS[1]), "body")
        eq(p.cmd("noop"), "+OK", "noop")
        eq(p.cmd("quit"), "+OK Logging out, 0 messages deleted", "quit")


def test_capa(env):
    user = setup(env)
    want = {"TOP", "UIDL", "USER", "RESP-CODES", "PIPELINING"}
    with env.client() as p:
        st, lines = p.cmd_multi("CAPA")
        eq(st, "+OK Capability list follows", "CAPA")
        words = {l.split()[0] for l in lines}
        check(want <= words, "CAPA lacks %s: %r" % (want - words, lines))
        check(any(l.startswith("IMPLEMENTATION ") for l in lines),
              "no IMPLEMENTATION in %r" % lines)
        eq(p.cmd("CAPA x"), "-ERR CAPA takes no argument", "CAPA x")
        p.login(user)
        st, lines = p.cmd_multi("CAPA")
        eq(st, "+OK Capability list follows", "CAPA after login")
        words = {l.split()[0] for l in lines}
        check({"TOP", "UIDL", "PIPELINING"} <= words,
              "CAPA after login: %r" % lines)
    pp = poplib.POP3("127.0.0.1", env.port, timeout=10)
    try:
        caps = pp.capa()
        check(want <= set(caps), "poplib capa: %r" % caps)
    finally:
        pp.quit()


def test_pipelining(env):
    user = setup(env)
    with env.client() as p:
        p.send("USER %s\r\nPASS %s\r\nSTAT\r\nLIST 2\r\nUIDL 3\r\n"
               % (user, DEFAULT_PASSWORD))
        eq(p.line(), "+OK", "1: USER")
        eq(p.line(), "+OK Logged in, 3 messages (%d octets)" % TOTAL,
           "2: PASS")
        eq(p.line(), "+OK 3 %d" % TOTAL, "3: STAT")
        eq(p.line(), "+OK 2 %d" % SIZES[1], "4: LIST 2")
        eq(p.line(), "+OK 3 %s" % UIDS[2], "5: UIDL 3")
        # multi-line answers and errors interleaved, in one write
        p.send("RETR 2\r\nLIST 9\r\nLIST\r\nDELE 1\r\nSTAT\r\n")
        eq(p.line(), "+OK %d octets" % SIZES[1], "1: RETR 2")
        eq(p.raw_multiline(), wire(MSGS[1]), "RETR 2 body")
        eq(p.line(), "-ERR No such message", "2: LIST 9")
        eq(p.line(), "+OK 3 messages (%d octets)" % TOTAL, "3: LIST")
        eq(len(p.multiline_lines()), 3, "LIST lines")
        eq(p.line(), "+OK Message 1 deleted", "4: DELE 1")
        eq(p.line(), "+OK 2 %d" % (TOTAL - SIZES[0]), "5: STAT")
        eq(p.cmd("RSET"), "+OK 3 messages (%d octets)" % TOTAL, "RSET")


def test_poplib_whole_session(env):
    user = setup(env)
    pp = poplib.POP3("127.0.0.1", env.port, timeout=10)
    try:
        pp.user(user)
        pp.pass_(DEFAULT_PASSWORD)
        eq(pp.stat(), (3, TOTAL), "stat")
        resp, lines, _ = pp.uidl()
        eq(lines, [b"%d %s" % (i + 1, u.encode())
                   for i, u in enumerate(UIDS)], "uidl")
        eq(pp.uidl(1), b"+OK 1 " + UIDS[0].encode(), "uidl 1")
        resp, lines, _ = pp.top(1, 0)
        eq(lines, wire_lines(TRICKY)[:4], "top 1 0")
        eq(pp.noop(), b"+OK", "noop")
        eq(pp.dele(3), b"+OK Message 3 deleted", "dele 3")
        eq(pp.rset(), b"+OK 3 messages (%d octets)" % TOTAL, "rset")
        eq(pp.dele(3), b"+OK Message 3 deleted", "dele 3 again")
        eq(pp.quit(), b"+OK Logging out, 1 message deleted", "quit")
    except Exception:
        pp.close()
        raise
    eq(len(env.files(user)), 2, "messages left after DELE 3 + QUIT")
