"""Bad input, failed logins and timeouts: the bad client is refused or
dropped, everyone else keeps being served."""
import os
import re
import socket
import subprocess
import time

import satchel as S
from satchel import alive, check, eq, simple_message


def _setup(env, **conf):
    user = env.add_user("alice", messages=[simple_message(1)])
    env.add_user("bob", messages=[simple_message(2)])
    env.start(**conf)
    # a well-behaved session that stays open through the abuse
    good = env.session("bob@test.example")
    return user, good


def _others_fine(env, good):
    eq(good.cmd("STAT").split()[:2], ["+OK", "1"],
       "open session after the abuse")
    eq(good.cmd("QUIT")[:3], "+OK", "QUIT")
    good.close()
    p = env.session("alice@test.example")
    eq(p.cmd("STAT").split()[:2], ["+OK", "1"], "new session")
    eq(p.cmd("QUIT")[:3], "+OK", "QUIT")
    p.close()
    check(alive(env.pid), "master died")
    check("killed by signal" not in env.log(), "a process crashed")


def _reply_or_close(p, timeout=10):
    """The next line, or None if the server closed the connection."""
    p.sock.settimeout(timeout)
    try:
        return p.line()
    except (EOFError, ConnectionResetError):
        return None


def test_megabyte_line(env):
    _, good = _setup(env)
    with env.client() as p:
        try:
            p.send(b"A" * (1024 * 1024))
        except (BrokenPipeError, ConnectionResetError):
            pass
        r = _reply_or_close(p)
        check(r is None or r == "-ERR Line too long",
              "reply to a 1 MiB line: %r" % r)
        if r is not None:
            # the tail of the long line must not be taken as a command
            try:
                p.send(b"AAAA\r\nNOOP\r\n")
                r2 = _reply_or_close(p)
                check(r2 in (None, "-ERR Not logged in yet"),
                      "after the long line: %r" % r2)
            except (BrokenPipeError, ConnectionResetError):
                pass
    _others_fine(env, good)


def test_nul_bytes(env):
    user, good = _setup(env)
    with env.client() as p:
        eq(p.cmd("NO\0OP"), "-ERR Invalid line (NUL)", "NUL in command")
        eq(p.cmd("USER alice\0@test.example"), "-ERR Invalid line (NUL)",
           "NUL in USER")
        eq(p.cmd("\0\0\0"), "-ERR Invalid line (NUL)", "only NULs")
        eq(p.cmd("USER " + user), "+OK", "USER after NULs")
        check(p.cmd("PASS s3cret-pw").startswith("+OK"), "PASS after NULs")
        eq(p.cmd("RETR 1\0"), "-ERR Invalid line (NUL)", "NUL after login")
        eq(p.cmd("QUIT")[:3], "+OK", "QUIT")
    _others_fine(env, good)


def test_binary_garbage(env):
    _, good = _setup(env)
    rnd = os.urandom(8192)
    with env.client() as p:
        chunks = [rnd[i:i + 100].replace(b"\n", b"") for i in
                  range(0, 4000, 100)]
        replies = []
        try:
            for c in chunks:
                p.send(c + b"\r\n")
                r = _reply_or_close(p, 5)
                if r is None:
                    break
                replies.append(r)
        except (BrokenPipeError, ConnectionResetError):
            pass
        check(replies, "no reply at all to garbage")
        for r in replies:
            check(r.startswith("-ERR"), "garbage got %r" % r)
        # ten bad commands in a row end the session
        check(len(replies) <= 11, "%d replies to garbage, never "
              "disconnected" % len(replies))
        check(replies[-1] == "-ERR Too many bad commands, disconnecting"
              or len(replies) < 10, "last reply %r" % replies[-1])
    _others_fine(env, good)


def test_300_byte_line(env):
    user, good = _setup(env)
    with env.client() as p:
        eq(p.cmd("USER " + "x" * 295), "-ERR Line too long", "300-byte USER")
        eq(p.cmd("NOOP" + " " * 296), "-ERR Line too long", "300-byte NOOP")
        # the longest allowed line (253 + CRLF) is a command, not an error
        eq(p.cmd("USER " + "y" * 248), "+OK", "253-byte USER")
        eq(p.cmd("USER " + user), "+OK", "USER after long lines")
        check(p.cmd("PASS s3cret-pw").startswith("+OK"), "PASS")
        eq(p.cmd("LIST " + "1" * 300), "-ERR Line too long", "long LIST")
        eq(p.cmd("STAT").split()[:2], ["+OK", "1"], "STAT")
        eq(p.cmd("QUIT")[:3], "+OK", "QUIT")
    _others_fine(env, good)


def test_third_failed_pass_closes(env):
    user = env.add_user("alice", messages=[simple_message(1)])
    env.start(login_fail_delay_ms=50)
    with env.client() as p:
        for i in range(2):
            eq(p.cmd("USER " + user), "+OK", "USER %d" % (i + 1))
            eq(p.cmd("PASS bad%d" % i), "-ERR [AUTH] Authentication failed",
               "PASS %d" % (i + 1))
        eq(p.cmd("USER " + user), "+OK", "USER 3")
        eq(p.cmd("PASS bad3"), "-ERR [AUTH] Authentication failed",
           "PASS 3")
        rest = p.drain_lines(5)
        eq(rest, ["-ERR Too many failed logins, disconnecting"],
           "after the third failure")
        check(p.closed(1), "still open after the third failure")
    env.wait_log(r"reason=auth-failures")
    # the right password still works on a new connection
    p = env.session(user)
    eq(p.cmd("QUIT")[:3], "+OK", "QUIT")
    p.close()


def test_failed_logins_are_delayed(env):
    user = env.add_user("alice", messages=[simple_message(1)])
    env.start(login_fail_delay_ms=200)
    with env.client() as p:
        eq(p.cmd("USER " + user), "+OK", "USER")
        t0 = time.monotonic()
        eq(p.cmd("PASS bad"), "-ERR [AUTH] Authentication failed", "PASS")
        t = time.monotonic() - t0
        check(t >= 0.19, "first failure answered after %.3f s, want "
              ">= 0.2 s" % t)
        eq(p.cmd("USER " + user), "+OK", "USER")
        t0 = time.monotonic()
        eq(p.cmd("PASS bad"), "-ERR [AUTH] Authentication failed", "PASS")
        t2 = time.monotonic() - t0
        check(t2 >= 0.38, "second failure answered after %.3f s, want the "
              "delay doubled (>= 0.4 s)" % t2)


def test_preauth_timeout(env):
    env.start(timeout_preauth=2)
    with env.client() as p:
        t0 = time.monotonic()
        p.sock.settimeout(6)
        try:
            r = p.line()
        except socket.timeout:
            r = None
        t = time.monotonic() - t0
        eq(r, "-ERR Disconnected for inactivity", "idle client")
        check(1.5 <= t <= 4.0, "disconnected after %.1f s, want ~2 s" % t)
        check(p.closed(2), "not closed after the timeout reply")
    env.wait_log(r"reason=timeout")
    # a client that talks is not cut off at 2 s
    with env.client() as p:
        for _ in range(3):
            time.sleep(1)
            eq(p.cmd("CAPA"), "+OK Capability list follows", "CAPA")
            p.multiline_lines()
        eq(p.cmd("QUIT"), "+OK Bye", "QUIT after 3 s of activity")


def test_one_session_workers_under_a_stream_of_logins():
    """One-session workers (the default) under a steady stream of
    logins: every worker that ended is reaped at once, so the ended ones
    never count against workers_max and nobody is refused "Server busy"
    while the pool has room.  (The master reaped only after a SIGCHLD,
    and a turn that forked a batch ran with signals blocked: 300 zombies
    for 64 clients, workers_max reached, clients refused.)"""
    env = S.Env()
    try:
        for i in range(24):
            env.add_user("stream%d" % i, plain=True,
                         messages=[S.simple_message(1)])
        env.start(workers_max=40, workers_min_spare=4, workers_max_spare=8,
                  max_connections_per_ip=0, log_level="warning")
        out = subprocess.run(
            [S.popload(), "-s", "login", "-p", str(env.port), "-c", "24",
             "-d", "4", "-t", "30", "-U", "24", "-u",
             "stream%d@" + S.DOMAIN, "-P", S.DEFAULT_PASSWORD],
            capture_output=True, text=True, timeout=90).stdout
        m = re.search(r"ok=(\d+) err=(\d+)", out)
        check(m, "no result from popload: %s" % out)
        check(int(m.group(1)) > 50, "only %s logins: %s" % (m.group(1), out))
        eq(m.group(2), "0", "logins refused or failed: %s" % out)
        check("workers_max" not in env.log(),
              "the pool hit workers_max (40) with 24 clients:\n%s"
              % env.log()[-1500:])
    finally:
        env.cleanup()
