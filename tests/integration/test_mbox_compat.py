"""mbox compatibility with Dovecot and popa3d: the same mbox served by
real Dovecot (Debian's dovecot-pop3d, a private instance on loopback) and
by Satchel with hide_headers = dovecot gives the same RETR and TOP bytes
and LIST sizes, on the file as Dovecot left it; with its defaults
(escape = none, content_length = yes, hide_headers = none) Satchel serves
the stored bytes as popa3d does; and Satchel alone: escape = mboxrd,
mboxo and none each do what they promise, a body framed by a valid
Content-Length: is served exactly as stored whatever escape says, a
message without a final newline does not merge with the next one, and
DELE of one message keeps every byte of the others.

Dovecot hides some headers from POP3 clients (Content-Length, Status,
X-IMAP, X-IMAPbase, X-Keywords, X-Status, X-UID: mbox_hide_headers in its
src/lib-storage/index/mbox/mbox-storage.c); with hide_headers = none
Satchel keeps them, and strip_hidden() removes exactly those lines where
a test compares such an answer with Dovecot's.  A message without a
final newline: both servers send a CRLF before the terminating dot and
neither counts it in LIST (test_mbox_compat_no_final_newline, on a
Maildir and on an mbox)."""
from compat_helpers import Dovecot, MboxBox as Box, mbox_dovecot
from satchel import DEFAULT_PASSWORD, Failure, Pop, check, eq, wire

HIDDEN = (b"content-length", b"status", b"x-imap", b"x-imapbase",
          b"x-keywords", b"x-status", b"x-uid")


def fl(n, who=b"sender"):
    return b"From %s%d@test.example Mon Jan  1 00:00:%02d 2024" % (
        who, n, n % 60)


def cl_msg(n, headers, body, eol=b"\n"):
    """A message whose body is framed by a valid Content-Length:."""
    return (fl(n) + eol + headers + b"Content-Length: %d" % len(body) +
            eol + eol + body)


# The test mbox, message by message, with what separates it from the next.
# Each entry: (stored message after its From_ line, bytes to RETR when
# served as stored, separator after it).
def build():
    parts = []
    # 1: plain body with >From lines (mboxo/mboxrd-looking), no CL.
    m1 = (b"From: a@test.example\nSubject: one\nMessage-ID: <1@x>\n\n"
          b">From the start of a line\n>>From twice\n>>>From thrice\n"
          b"From inside, no blank line before\n.\n..\n.dot\n"
          b">Fromage\nlast\n")
    parts.append((fl(1) + b"\n" + m1, b"\n"))
    # 2: a Content-Length-framed body with From and >From lines, after
    # empty lines too (Dovecot writes bodies like this, unescaped).
    b2 = (b"text\n\nFrom someone Mon Jan  1 00:00:00 2024\n"
          b">From quoted\n>>From quoted twice\n\nFrom x\nend\n")
    parts.append((cl_msg(2, b"From: b@test.example\nSubject: two\n"
                                b"Message-ID: <2@x>\n", b2), b"\n"))
    # 3: CL-framed, no final newline, the next From_ line right after
    # one LF (what Dovecot's append leaves after such a message).
    b3 = b"no final newline\n>From here\nthe end"
    parts.append((cl_msg(3, b"From: c@test.example\nSubject: three\n"
                                b"Message-ID: <3@x>\n", b3), b"\n"))
    # 4: CRLF lines, CL-framed, >From inside.
    b4 = b"crlf body\r\n>From crlf\r\n\r\nFrom inside crlf\r\n"
    parts.append((cl_msg(4, b"From: d@test.example\r\nSubject: four\r\n"
                                b"Message-ID: <4@x>\r\n", b4, b"\r\n"),
                  b"\r\n"))
    # 5: CRLF, no CL, a >From line.
    m5 = (b"From: e@test.example\r\nSubject: five\r\nMessage-ID: <5@x>"
          b"\r\n\r\nline\r\n>From x\r\nmixed\nends\r\n")
    parts.append((fl(5) + b"\r\n" + m5, b"\n"))
    # 6: last, CL-framed, LF.
    b6 = b"six\n>>From six\nbye\n"
    parts.append((cl_msg(6, b"From: f@test.example\nSubject: six\n"
                                b"Message-ID: <6@x>\n", b6), b"\n"))
    return parts


def mbox_bytes(parts):
    return b"".join(m + sep for m, sep in parts)


def stored(parts, i):
    """Message i's stored bytes (after its From_ line)."""
    m = parts[i][0]
    return m[m.index(b"\n") + 1:]


def strip_hidden(data):
    """Remove Dovecot's hidden header lines from RETR bytes (CRLF form);
    returns (bytes, octets removed)."""
    end = data.find(b"\r\n\r\n")
    head = data[:end + 2] if end >= 0 else data
    rest = data[end + 2:] if end >= 0 else b""
    out, removed, skip = [], 0, False
    lines = head.split(b"\r\n")[:-1] if head.endswith(b"\r\n") else \
        head.split(b"\r\n")
    for ln in lines:
        if ln[:1] in (b" ", b"\t") and skip:
            removed += len(ln) + 2
            continue
        name = ln.split(b":", 1)[0].strip().lower()
        skip = b":" in ln and name in HIDDEN
        if skip:
            removed += len(ln) + 2
            continue
        out.append(ln + b"\r\n")
    return b"".join(out) + rest, removed


def unstuff(raw):
    """RETR answer bytes (up to CRLF.CRLF) -> message octets."""
    check(raw.endswith(b".\r\n"), "no terminator")
    body = raw[:-3]
    lines = body.split(b"\r\n")
    return b"\r\n".join(l[1:] if l.startswith(b".") else l
                        for l in lines)


def fetch_all(port, user, password):
    """LIST sizes and raw RETR answers of every message."""
    p = Pop(port, timeout=20)
    try:
        check(p.greeting.startswith("+OK"), "greeting: %r" % p.greeting)
        r = p.login(user, password)
        check(r.startswith("+OK"), "login %s: %r" % (user, r))
        st, lines = p.cmd_multi("LIST")
        check(st.startswith("+OK"), "LIST: %r" % st)
        sizes = [int(l.split()[1]) for l in lines]
        got = []
        for i in range(len(sizes)):
            st = p.cmd("RETR %d" % (i + 1))
            check(st.startswith("+OK"), "RETR %d: %r" % (i + 1, st))
            got.append(p.raw_multiline())
        p.cmd("QUIT")
    finally:
        p.close()
    return sizes, got


def hidden_parts():
    """build() and messages for hide_headers = dovecot: Dovecot's headers
    folded, in other cases, with LWSP before ':', a header of only hidden
    lines, a message with no body."""
    parts = build()
    m7 = (b"X-Keywords: a\n b\n\tc\nSubject: seven\nx-uid : 99\n"
          b"STATUS: RO\nX-Status: A\nMessage-ID: <7@x>\nX-UIDL: kept\n"
          b"X-IMAP: gone\nX-UIDx: kept\nStatusx: kept\n\nbody seven\n"
          b"Status: body, kept\n")
    parts.append((fl(7) + b"\n" + m7, b"\n"))
    m8 = b"Status: O\r\nX-Status: F\r\n\r\nbody eight\r\n"
    parts.append((fl(8) + b"\r\n" + m8, b"\n"))
    m9 = b"Subject: no body\nStatus: O\n"
    parts.append((fl(9) + b"\n" + m9, b"\n"))
    m10 = b"Subject: ten\nX-Keywords: x\n\nend ten\n"
    parts.append((fl(10) + b"\n" + m10, b"\n"))
    return parts


def fetch_top(port, user, password, n, lines):
    p = Pop(port, timeout=20)
    try:
        p.login(user, password)
        got = []
        for i in range(n):
            st = p.cmd("TOP %d %d" % (i + 1, lines))
            check(st.startswith("+OK"), "TOP %d %d: %r" % (i + 1, lines, st))
            got.append(p.raw_multiline())
        p.cmd("QUIT")
    finally:
        p.close()
    return got


def test_mbox_compat_dovecot_same_bytes(env):
    """hide_headers = dovecot: RETR, TOP and LIST byte for byte and octet
    for octet what Dovecot gives on the same mbox (the file as Dovecot
    left it, with its X-IMAPbase, X-UID and Status headers); the
    default serves the stored bytes, as popa3d, and the index follows a
    change of the setting."""
    parts = hidden_parts()
    data = mbox_bytes(parts)
    dc = mbox_dovecot(env, data)
    dc.start()
    try:
        fetch_all(dc.port, "dove", DEFAULT_PASSWORD)   # its sync writes headers
        d_sizes, d_got = fetch_all(dc.port, "dove", DEFAULT_PASSWORD)
        d_top0 = fetch_top(dc.port, "dove", DEFAULT_PASSWORD, len(d_got), 0)
        d_top1 = fetch_top(dc.port, "dove", DEFAULT_PASSWORD, len(d_got), 1)
    finally:
        dc.stop()
    with open(dc.inbox, "rb") as f:
        dfile = f.read()
    check(b"\nX-UID: " in dfile and b"\nX-IMAPbase: " in dfile,
          "Dovecot wrote its headers: %r" % dfile[:300])
    eq(len(d_got), len(parts), "Dovecot's message count")
    conf = Conf("hide_headers = dovecot\n")
    box = Box(env, "alice", dfile, conf)
    env.start()
    for rnd in range(2):        # the second session reads the index
        s_sizes, s_got = fetch_user(env.port, box.user)
        eq(len(s_got), len(parts), "Satchel's message count")
        for i in range(len(parts)):
            eq(s_got[i], d_got[i], "round %d, message %d: RETR bytes, "
               "Satchel vs Dovecot" % (rnd, i + 1))
            eq(s_sizes[i], d_sizes[i], "round %d, message %d: LIST size"
               % (rnd, i + 1))
    eq(fetch_top(env.port, box.user, DEFAULT_PASSWORD, len(parts), 0), d_top0,
       "TOP n 0, Satchel vs Dovecot")
    eq(fetch_top(env.port, box.user, DEFAULT_PASSWORD, len(parts), 1), d_top1,
       "TOP n 1, Satchel vs Dovecot")
    hid_sizes = s_sizes
    # The default: the stored bytes (popa3d's way), not stale sizes from
    # the index written with the setting on.
    restart(env, conf, "")
    s_sizes, s_got = fetch_user(env.port, box.user)
    for i in range(len(parts)):
        got, removed = strip_hidden(s_got[i])
        eq(got, d_got[i], "hide_headers = none, message %d: only the "
           "hidden lines differ" % (i + 1))
        eq(s_sizes[i] - removed, hid_sizes[i], "hide_headers = none, "
           "message %d: LIST counts the hidden lines" % (i + 1))
        check(removed > 0, "message %d kept Dovecot's headers" % (i + 1))
    eq(box.read(), dfile, "Satchel left the mbox unchanged")


def test_mbox_compat_as_stored(env):
    """The default serves every stored byte (popa3d's way)."""
    parts = build()
    data = mbox_bytes(parts)
    box = Box(env, "alice", data)
    env.start()
    s_sizes, s_got = fetch_user(env.port, box.user)
    eq(len(s_got), len(parts), "Satchel's message count")
    for i in range(len(parts)):
        nonl = 0 if stored(parts, i).endswith(b"\n") else 2
        eq(s_got[i], wire(stored(parts, i)), "message %d: as stored"
           % (i + 1))
        eq(s_sizes[i] + nonl, len(unstuff(s_got[i])),
           "message %d: LIST size is the octets sent" % (i + 1))
    eq(box.read(), data, "Satchel left the mbox unchanged")


def has_cl(parts, i):
    """Does message i's header hold a Content-Length: (all of ours are
    valid)?"""
    head = stored(parts, i).replace(b"\r\n", b"\n").split(b"\n\n")[0]
    return b"\ncontent-length:" in b"\n" + head.lower()


def undo(body, mode):
    """What escape = mode promises for a body that is not CL-framed."""
    out = []
    for ln in body.split(b"\n"):
        s = ln.lstrip(b">")
        if mode == "mboxrd" and ln.startswith(b">") and \
                s.startswith(b"From "):
            ln = ln[1:]
        elif mode == "mboxo" and ln.startswith(b">From "):
            ln = ln[1:]
        out.append(ln)
    return b"\n".join(out)


class Conf:
    """A mutable [mbox] section for Box, so one test can restart Satchel
    with other settings."""

    def __init__(self, text=""):
        self.text = text

    def __radd__(self, other):
        return other + self.text


def restart(env, conf, text):
    env.stop()
    conf.text = text
    env.start()


def test_mbox_compat_escape_modes(env):
    parts = build()
    data = mbox_bytes(parts)
    conf = Conf()
    box = Box(env, "alice", data, conf)
    first = True
    for mode in ("none", "mboxrd", "mboxo"):
        if first:
            conf.text = "escape = %s\n" % mode
            env.start()
            first = False
        else:
            restart(env, conf, "escape = %s\n" % mode)
        sizes, got = fetch_user(env.port, box.user)
        eq(len(got), len(parts), "%s: message count" % mode)
        for i in range(len(parts)):
            want = stored(parts, i)
            if mode != "none" and not has_cl(parts, i):
                want = undo(want, mode)
            eq(got[i], wire(want), "escape = %s, message %d" % (mode, i + 1))
            nonl = 0 if want.endswith(b"\n") else 2
            eq(sizes[i] + nonl, len(unstuff(got[i])),
               "escape = %s, LIST %d" % (mode, i + 1))
        # What the modes promise, spelled out on message 1's lines.
        lines = got[0].split(b"\r\n")
        exp = {"none": (b">From the start of a line", b">>From twice"),
               "mboxrd": (b"From the start of a line", b">From twice"),
               "mboxo": (b"From the start of a line", b">>From twice")}
        for ln in exp[mode]:
            check(ln in lines, "escape = %s: %r not served" % (mode, ln))
        # A CL-framed body is never unescaped.
        check(b">From quoted\r\n>>From quoted twice\r\n" in got[1],
              "escape = %s unescaped a Content-Length body" % mode)
    # content_length = no: message 2's body splits at its From lines.
    restart(env, conf, "escape = none\ncontent_length = no\n")
    sizes, got = fetch_user(env.port, box.user)
    check(len(got) > len(parts), "content_length = no: %d messages"
          % len(got))
    eq(box.read(), data, "the mbox after sessions without DELE")


def dele_session(env, user, numbers):
    p = Pop(env.port, timeout=20)
    try:
        r = p.login(user, DEFAULT_PASSWORD)
        check(r.startswith("+OK"), "login: %r" % r)
        st, lines = p.cmd_multi("UIDL")
        uids = [l.split()[1] for l in lines]
        for n in numbers:
            eq(p.cmd("DELE %d" % n)[:3], "+OK", "DELE %d" % n)
        eq(p.cmd("QUIT")[:3], "+OK", "QUIT")
    finally:
        p.close()
    return uids


def uidl(env, user):
    p = Pop(env.port, timeout=20)
    try:
        p.login(user, DEFAULT_PASSWORD)
        st, lines = p.cmd_multi("UIDL")
        p.cmd("QUIT")
    finally:
        p.close()
    return [l.split()[1] for l in lines]


def test_mbox_compat_dele_keeps_bytes(env):
    parts = build()
    data = mbox_bytes(parts)
    box = Box(env, "alice", data)
    env.start()
    before_sizes, before = fetch_user(env.port, box.user)
    uids = dele_session(env, box.user, [2])
    left = [parts[i] for i in range(len(parts)) if i != 1]
    eq(box.read(), mbox_bytes(left), "the mbox after DELE 2")
    sizes, got = fetch_user(env.port, box.user)
    keep = [i for i in range(len(parts)) if i != 1]
    eq(got, [before[i] for i in keep], "RETR of the others after DELE 2")
    eq(sizes, [before_sizes[i] for i in keep], "LIST after DELE 2")
    eq(uidl(env, box.user), [uids[i] for i in keep], "UIDL after DELE 2")
    # Now the message before the one without a final newline, then that
    # one: what follows keeps its bytes, nothing merges.
    dele_session(env, box.user, [1])
    keep = keep[1:]
    eq(box.read(), mbox_bytes([parts[i] for i in keep]),
       "the mbox after DELE 1")
    sizes, got = fetch_user(env.port, box.user)
    eq(got, [before[i] for i in keep], "RETR after DELE 1")
    dele_session(env, box.user, [1])    # message 3, no final newline
    keep = keep[1:]
    eq(box.read(), mbox_bytes([parts[i] for i in keep]),
       "the mbox after deleting the message without a final newline")
    sizes, got = fetch_user(env.port, box.user)
    eq(got, [before[i] for i in keep], "RETR at the end")
    eq(uidl(env, box.user), [uids[i] for i in keep], "UIDL at the end")
    # And Dovecot reads the rewritten mbox the same way.
    dc = mbox_dovecot(env, box.read())
    dc.start()
    try:
        d_sizes, d_got = fetch_all(dc.port, "dove", DEFAULT_PASSWORD)
    finally:
        dc.stop()
    eq(len(d_got), len(keep), "Dovecot's count after Satchel's rewrite")
    for k, i in enumerate(keep):
        g, removed = strip_hidden(got[k])
        eq(g, d_got[k], "message %d after the rewrite: Satchel vs Dovecot"
           % (i + 1))


def test_mbox_compat_wire_messages(env):
    """CRLF messages the module marks SATCHEL_MSG_WIRE (sent with
    sendfile() unread) and their neighbours with a dot line, a bare LF or
    a Content-Length: body without a final newline come out exactly."""
    big = b"".join(b"line %06d of a CRLF message\r\n" % i
                   for i in range(4000))
    msgs = [
        b"Subject: wire\r\n\r\n" + big,
        b"Subject: dot\r\n\r\n" + big + b".dot line\r\n",
        b"Subject: bare lf\r\n\r\n" + big + b"bare\n",
        b"Subject: cl\r\nContent-Length: %d\r\n\r\n" % (len(big) + 4) +
        big + b"tail",
    ]
    data = b"".join(fl(i) + b"\r\n" + m + b"\r\n" for i, m in
                    enumerate(msgs))
    box = Box(env, "alice", data)
    env.start()
    for rnd in range(2):        # the second session uses the index
        sizes, got = fetch_user(env.port, box.user)
        eq(len(got), len(msgs), "count")
        for i, m in enumerate(msgs):
            eq(got[i], wire(m), "round %d message %d" % (rnd, i + 1))
            nonl = 0 if m.endswith(b"\n") else 2
            eq(sizes[i] + nonl, len(unstuff(got[i])), "LIST %d" % (i + 1))
        eq(sizes[0], len(msgs[0]), "the wire message's size is its length")
    eq(box.read(), data, "mbox unchanged")


NONL = [
    b"Subject: crlf, no final newline\r\nMessage-ID: <n1@x>\r\n\r\n"
    b"line one\r\nthe end",
    b"Subject: lf, no final newline\nMessage-ID: <n2@x>\n\nline\nend",
    b"Subject: ends in CR\nMessage-ID: <n3@x>\n\nline\nend\r",
    b"Subject: header only, no newline",
    b"Subject: normal\nMessage-ID: <n5@x>\n\nbody\n",
]


def fetch_user(port, user):
    return fetch_all(port, user, DEFAULT_PASSWORD)


def test_mbox_compat_no_final_newline(env):
    """A message without a final newline: LIST gives Dovecot's size (the
    CRLF sent before the terminator is not counted), RETR its bytes, on a
    Maildir and on an mbox."""
    # Maildir.
    user = env.add_user("alice")
    for i, m in enumerate(NONL):
        env.put_message(user, "cur", "%d.M%dP1.host:2,S" % (1700000000 + i,
                                                            i), m)
    md = env.maildir(user)
    dc = Dovecot(env, user, "maildir:%s" % md)
    try:
        dc.start()
        d_sizes, d_got = fetch_user(dc.port, user)
    finally:
        dc.stop()
    env.start()
    s_sizes, s_got = fetch_user(env.port, user)
    env.stop()
    eq(len(d_got), len(NONL), "Dovecot's Maildir count")
    for i, m in enumerate(NONL):
        eq(s_got[i], d_got[i], "Maildir message %d: RETR bytes (LIST %r %r)" % (i + 1, s_sizes, d_sizes))
        eq(s_sizes[i], d_sizes[i], "Maildir message %d: LIST" % (i + 1))
        eq(s_got[i], wire(m), "Maildir message %d: as stored" % (i + 1))
    eq(s_sizes[0], len(NONL[0]), "an all-CRLF message without a final "
       "newline: its size is its length")
    # mbox: Content-Length frames the bodies that lack a final newline.
    data = b""
    for i, m in enumerate(NONL):
        # LF messages with a body; not the one ending in a CR (with
        # Content-Length, then the separator, Dovecot 2.3 panics).
        if b"\r" in m or b"\n\n" not in m:
            continue
        head, body = m.split(b"\n\n", 1)
        if not m.endswith(b"\n"):
            head += b"\nContent-Length: %d" % len(body)
        data += fl(i) + b"\n" + head + b"\n\n" + body + b"\n"
    box = Box(env, "bob", data)
    d2 = mbox_dovecot(env, data)
    d2.start()
    try:
        d_sizes, d_got = fetch_all(d2.port, "dove", DEFAULT_PASSWORD)
    except (OSError, Failure) as e:
        raise Failure("Dovecot on the mbox: %r; its log:\n%s"
                      % (e, d2.log()[-2000:]))
    finally:
        d2.stop()
    env.start()
    s_sizes, s_got = fetch_user(env.port, box.user)
    eq(len(s_got), len(d_got), "mbox count, Satchel vs Dovecot")
    for i in range(len(d_got)):
        got, removed = strip_hidden(s_got[i])
        eq(got, d_got[i], "mbox message %d: RETR bytes" % (i + 1))
        eq(s_sizes[i] - removed, d_sizes[i], "mbox message %d: LIST"
           % (i + 1))
