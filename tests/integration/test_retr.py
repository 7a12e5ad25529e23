"""RETR's zero-copy path (issue 16): messages stored as wire bytes go out
with sendfile() (or SSL_sendfile() with kernel TLS), everything else
through the converter, and either way byte for byte what LIST announced.
Each test reads the worker's debug line

  session=.. event=retr msg=N stored=S clean=C zerocopy=Z proof=P

to see which path a RETR took: Z bytes left through sendfile, C bytes
needed no change.  Real daemon, real files, Maildir and mbox, plain and
implicit TLS (without the kernel's tls module this machine's TLS takes
the copying path: the test checks that and says so).
"""
import os
import re

from satchel import TRICKY, check, crlf, rfc_size, eq, wire
from test_mbox import Box, to_mbox
from test_tls import TPop, _ctx, _start

ZC_MIN = 16 * 1024


def _lines(n, width, tag):
    return b"".join(b"%s %06d %s" % (tag, i, b"x" * width) for i in range(n))


def clean_message(size, tag=b"clean"):
    """CRLF line ends, no line starting with '.': stored == wire."""
    head = (b"From: a@test.example\r\nTo: b@test.example\r\n"
            b"Subject: %s\r\n\r\n" % tag)
    body = b""
    i = 0
    while len(head) + len(body) < size:
        # 8-bit bytes, a bare CR inside a line, dots not at line start
        body += b"line %07d caf\xe9 a.b\rc ..dots.. %s\r\n" % (i, b"y" * 40)
        i += 1
    return head + body


def dirty_message(size):
    """LF line ends and dot lines: must not take the zero-copy path."""
    out = b"From: a@test.example\nSubject: dirty\n\n"
    i = 0
    while len(out) < size:
        out += b".leading dot %d\n" % i if i % 50 == 0 else \
            b"plain line %07d %s\n" % (i, b"z" * 50)
        i += 1
    return out


def mixed_message(size):
    """Clean CRLF bulk with one dot line and one bare LF in the middle:
    the prefix before each goes by sendfile, the rest is converted."""
    a = clean_message(size // 2, b"mixed-a")
    b = clean_message(size // 2, b"mixed-b").split(b"\r\n\r\n", 1)[1]
    return a + b".a dot line\r\nbare lf line\n" + b + b"no line end at the end"


def long_line_message():
    """A 300 KiB line (longer than one read) inside CRLF text."""
    return (b"Subject: long\r\n\r\nstart\r\n" + b"L" * (300 * 1024) +
            b"\r\nend\r\n")


MSGS = [clean_message(600 * 1024), dirty_message(300 * 1024),
        mixed_message(700 * 1024), TRICKY, long_line_message(),
        clean_message(100), b""]


def _retr_lines(env, start):
    log = env.log()[start:]
    out = {}
    for m in re.finditer(r"event=retr msg=(\d+) stored=(\d+) clean=(\d+) "
                         r"zerocopy=(\d+) proof=(\w+)", log):
        out.setdefault(int(m.group(1)), []).append(
            tuple(int(m.group(i)) for i in (2, 3, 4)) + (m.group(5),))
    return out


def _fetch_all(env, p, msgs):
    """RETR every message twice, TOP the first: all byte for byte."""
    for rnd in range(2):
        for i, m in enumerate(msgs):
            eq(p.cmd("RETR %d" % (i + 1)), "+OK %d octets" % rfc_size(m),
               "RETR %d status (round %d)" % (i + 1, rnd + 1))
            body = p.raw_multiline()
            check(body == wire(m), "RETR %d body differs (round %d): %d "
                  "bytes, want %d" % (i + 1, rnd + 1, len(body),
                                      len(wire(m))))
    eq(p.cmd("TOP 1 3"), "+OK Top of message follows", "TOP 1 3")
    eq(p.raw_multiline(), wire(msgs[0], top=3), "TOP 1 3 body")


def _check_paths(env, start, msgs, zerocopy):
    """What each RETR did: zerocopy says whether sendfile is expected."""
    got = _retr_lines(env, start)
    for i, m in enumerate(msgs):
        n = i + 1
        check(len(got.get(n, [])) == 2, "two RETR lines for message %d: %r"
              % (n, got.get(n)))
        stored = len(m)
        is_clean = crlf(m) == m and not re.search(rb"(^|\n)\.", m)
        for rnd, (st, clean, zc, proof) in enumerate(got[n]):
            eq(st, stored, "stored length of message %d" % n)
            if is_clean and stored > 0:
                eq(clean, stored, "message %d clean bytes" % n)
                eq(proof, "clean", "message %d proof" % n)
                eq(zc, stored if zerocopy and stored >= ZC_MIN else 0,
                   "message %d zero-copy bytes (round %d)" % (n, rnd + 1))
            else:
                check(clean < stored or stored == 0,
                      "message %d counted clean: %d" % (n, clean))
                # Mostly clean: scanned again; mostly not: never again.
                first = got[n][0][1]
                eq(proof, "unknown" if stored and first * 2 >= stored
                   else "dirty", "message %d proof (round %d)"
                   % (n, rnd + 1))
    # The LF message with dots never went through sendfile.
    for st, clean, zc, proof in got[2]:
        eq(zc, 0, "dirty message 2 took the zero-copy path")
    # The mixed one did, in part, and only in part.
    if zerocopy:
        for st, clean, zc, proof in got[3]:
            check(ZC_MIN <= zc < st, "mixed message 3: zerocopy=%d of %d"
                  % (zc, st))


def _ktls_possible():
    try:
        with open("/proc/sys/net/ipv4/tcp_available_ulp") as f:
            return "tls" in f.read().split()
    except OSError:
        return False


def test_retr_zero_copy_maildir_plain(env):
    user = env.add_user("alice", messages=MSGS)
    env.start(log_level="debug")
    start = len(env.log())
    with env.client() as p:
        check(p.login(user).startswith("+OK Logged in, %d messages"
                                       % len(MSGS)), "login")
        _fetch_all(env, p, MSGS)
        eq(p.cmd("QUIT"), "+OK Logging out, 0 messages deleted", "QUIT")
    _check_paths(env, start, MSGS, True)


def test_retr_zero_copy_maildir_tls(env):
    user = env.add_user("alice", messages=MSGS)
    port = _start(env, log_level="debug")
    start = len(env.log())
    p = TPop(port, _ctx())
    try:
        check(p.login(user).startswith("+OK Logged in"), "TLS login")
        _fetch_all(env, p, MSGS)
        eq(p.cmd("QUIT"), "+OK Logging out, 0 messages deleted", "QUIT")
    finally:
        p.close()
    ktls = _ktls_possible()
    log = env.log()[start:]
    if not ktls:
        check("kernel TLS for sending: no" in log,
              "no tls module, yet no fallback logged")
        print("no 'tls' in tcp_available_ulp: checked the copying "
              "fallback over TLS")
    _check_paths(env, start, MSGS, ktls and
                 "kernel TLS for sending: yes" in log)


def test_retr_zero_copy_mbox(env):
    """mbox (mboxrd): CRLF messages without '>From' lines are clean too."""
    msgs = [clean_message(200 * 1024), dirty_message(50 * 1024),
            clean_message(300 * 1024, b"second")]
    box = Box(env, "alice", to_mbox(msgs))
    env.start(log_level="debug")
    start = len(env.log())
    with env.client() as p:
        check(p.login(box.user).startswith("+OK Logged in, 3 messages"),
              "mbox login")
        _fetch_all(env, p, msgs)
        eq(p.cmd("QUIT"), "+OK Logging out, 0 messages deleted", "QUIT")
    got = _retr_lines(env, start)
    for n in (1, 3):
        for st, clean, zc, proof in got[n]:
            check(zc >= ZC_MIN, "mbox message %d: zerocopy=%d" % (n, zc))
    for st, clean, zc, proof in got[2]:
        eq(zc, 0, "mbox dirty message: zerocopy")
