"""mbox storage with the real daemon and real neighbours: escaping round
trip, UIDL stability, a dotlock held by dotlockfile, procmail delivering
during a session and during its update, malformed mboxes, and mpop
fetching byte for byte."""
import os
import shutil
import subprocess
import tempfile
import threading
import time

from compat_helpers import MboxBox as Box
from satchel import (Failure, check, ensure_tool, eq, wire,
                     wire_lines)


def from_line(n):
    return b"From sender%d@test.example Mon Jan  1 00:00:%02d 2024\n" % (
        n, n % 60)


def escape_rd(body):
    """mboxrd: every line matching ^>*From gets one more '>'."""
    out = []
    for ln in body.split(b"\n"):
        s = ln.lstrip(b">")
        if s.startswith(b"From "):
            ln = b">" + ln
        out.append(ln)
    return b"\n".join(out)


def unescape_rd(body):
    out = []
    for ln in body.split(b"\n"):
        s = ln.lstrip(b">")
        if s.startswith(b"From ") and ln.startswith(b">"):
            ln = ln[1:]
        out.append(ln)
    return b"\n".join(out)


def to_mbox(msgs):
    """Messages (each ending in LF) -> mbox bytes, mboxrd-escaped."""
    return b"".join(from_line(i) + escape_rd(m) + b"\n"
                    for i, m in enumerate(msgs))


def split_mbox(data):
    """The module's rule: (From_ line, stored bytes) per message."""
    out, pos, prev_empty, cur, empty_off = [], 0, False, None, 0
    while pos < len(data):
        le = data.find(b"\n", pos)
        le = len(data) if le < 0 else le + 1
        line = data[pos:le]
        if line.startswith(b"From ") and (pos == 0 or prev_empty):
            if cur is not None:
                out.append((cur[0], data[cur[1]:empty_off if prev_empty
                                         else pos]))
            cur, prev_empty = (line, le), False
        else:
            check(cur is not None or line in (b"\n", b"\r\n"),
                  "not an mbox at %d" % pos)
            prev_empty = line in (b"\n", b"\r\n")
            if prev_empty:
                empty_off = pos
        pos = le
    if cur is not None:
        out.append((cur[0], data[cur[1]:empty_off if prev_empty
                                 else len(data)]))
    return out


BODIES = [
    b"From: a@test.example\nSubject: escapes\n\nFrom the start\n"
    b">From quoted\n>>From twice\n.\n..\n.dot\nlast\n",
    b"From: b@test.example\nSubject: dots\n\n.\n\n..\nFrom again\n",
    b"From: c@test.example\nSubject: plain\nMessage-ID: <c@x>\n\nhello\n",
]


def retr(p, n):
    st = p.cmd("RETR %d" % n)
    check(st.startswith("+OK"), "RETR %d: %r" % (n, st))
    return p.raw_multiline()


def test_mbox_escaping_round_trip(env):
    # to_mbox() escapes mboxrd-style: say so (the default is none).
    box = Box(env, "alice", to_mbox(BODIES), conf="escape = mboxrd\n")
    env.start()
    p = env.session(box.user)
    eq(p.cmd("STAT").split()[1], "3", "STAT")
    st, lines = p.cmd_multi("LIST")
    sizes = [int(l.split()[1]) for l in lines]
    st, lines = p.cmd_multi("UIDL")
    uids = [l.split()[1] for l in lines]
    eq(len(set(uids)), 3, "unique UIDs")
    for i, body in enumerate(BODIES):
        got = retr(p, i + 1)
        eq(got, wire(body), "RETR %d bytes" % (i + 1))
        # the size counts the unstuffed CRLF form
        eq(sizes[i], sum(len(l) + 2 for l in wire_lines(body)),
           "LIST %d" % (i + 1))
    eq(p.cmd("QUIT")[:3], "+OK", "QUIT")
    p.close()
    q = env.session(box.user)
    st, lines = q.cmd_multi("UIDL")
    eq([l.split()[1] for l in lines], uids, "UIDL in a second session")
    q.cmd("QUIT")
    q.close()
    eq(box.read(), to_mbox(BODIES), "the mbox after sessions without DELE")


def test_mbox_dotlock_held_tempfail(env):
    dlf = ensure_tool("dotlockfile", "liblockfile-bin")
    box = Box(env, "alice", to_mbox(BODIES), conf="lock_timeout_ms = 800\n")
    env.start()
    r = subprocess.run([dlf, "-r", "0", box.path + ".lock"],
                       capture_output=True, timeout=10)
    eq(r.returncode, 0, "dotlockfile -l: %r" % r.stderr)
    check(os.path.exists(box.path + ".lock"), "no dotlock")
    try:
        p = env.client()
        eq(p.cmd("USER " + box.user)[:3], "+OK", "USER")
        t0 = time.monotonic()
        r = p.cmd("PASS s3cret-pw")
        took = time.monotonic() - t0
        check(r.startswith("-ERR [SYS/TEMP]"), "PASS under a dotlock: %r"
              % r)
        check(0.7 <= took < 5, "answer after %.2f s" % took)
        p.close()
    finally:
        subprocess.run([dlf, "-u", box.path + ".lock"], timeout=10)
    p = env.session(box.user)
    eq(p.cmd("STAT").split()[1], "3", "STAT once unlocked")
    p.cmd("QUIT")
    p.close()
    eq(box.read(), to_mbox(BODIES), "mbox untouched")


def _procmail(box, rc, n):
    msg = (b"From mda%d@test.example Tue Jan  2 00:00:00 2024\n"
           b"From: mda%d@test.example\nSubject: delivered %d\n\n"
           b"From the MDA, line one\n%s\nend of %d\n"
           % (n, n, n, b"x" * (n * 97 % 3000), n))
    r = subprocess.run(["runuser", "-u", "vmail", "--", "procmail", "-m",
                        rc], input=msg, capture_output=True, timeout=30)
    if r.returncode != 0:
        raise Failure("procmail: %r" % r.stderr)
    return msg


def test_mbox_mda_delivery_during_session_and_update(env):
    procmail = ensure_tool("procmail", "procmail")
    # 24 MiB of old mail, so the update takes a while.
    msgs = [b"From: s%d@test.example\nSubject: old %d\n\nold body %d\n%s"
            % (i, i, i, b"0123456789abcdef\n" * (256 * 1024))
            for i in range(6)]
    box = Box(env, "alice", to_mbox(msgs))
    rc = os.path.join(env.dir, "procmailrc")
    with open(rc, "w") as f:
        f.write("SHELL=/bin/sh\nLOCKSLEEP=1\nLOCKTIMEOUT=60\n:0:\n%s\n"
                % box.path)
    os.chmod(rc, 0o644)
    check(procmail, "procmail")
    env.start()
    p = env.session(box.user)
    eq(p.cmd("STAT").split()[1], "6", "STAT")
    delivered = [_procmail(box, rc, 100)]      # while the session is open
    for i in (1, 3, 5):
        eq(p.cmd("DELE %d" % i)[:3], "+OK", "DELE %d" % i)
    # Deliver continuously while the update rewrites the mbox.
    stop = threading.Event()
    errors = []

    def deliver(k):
        n = 200 + 100 * k
        try:
            while not stop.is_set() and n < 260 + 100 * k:
                m = _procmail(box, rc, n)
                with lock:
                    delivered.append(m)
                n += 1
        except Exception as e:  # noqa: BLE001
            errors.append(e)
    # procmail takes about 0.5 s a message: four run side by side.
    lock = threading.Lock()
    threads = [threading.Thread(target=deliver, args=(k,))
               for k in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.2)
    before_quit = len(delivered)
    r = p.cmd("QUIT")
    time.sleep(1.5)
    stop.set()
    for t in threads:
        t.join(60)
    p.close()
    check(not errors, "delivery failed: %r" % errors)
    eq(r, "+OK Logging out, 3 messages deleted", "QUIT")
    got_full = [fl + unescape_rd(b) for fl, b in split_mbox(box.read())]
    want_full = [from_line(i) + msgs[i] for i in (1, 3, 5)] + delivered
    eq(len(got_full), len(want_full), "messages in the mbox (%d delivered)"
       % len(delivered))
    eq(got_full[:3], want_full[:3], "kept messages")
    eq(sorted(got_full[3:]), sorted(want_full[3:]),
       "every delivered message exactly once, whole")
    check(before_quit >= 2 and len(delivered) >= before_quit + 2,
          "deliveries: %d before QUIT, %d in all" % (before_quit,
                                                   len(delivered)))
    # the next session sees all of them, with the old UIDs unchanged
    q = env.session(box.user)
    eq(q.cmd("STAT").split()[1], str(len(want_full)), "STAT next session")
    q.cmd("QUIT")
    q.close()


def test_mbox_malformed(env):
    bad = b"Subject: no From_ line\n\nbody\n\nFrom x Mon Jan  1 2024\n\nb\n"
    box = Box(env, "alice", bad)
    odd = (b"From a Mon Jan  1 00:00:00 2024\r\nSubject: crlf\r\n\r\n"
           b"nul\0byte\r\n\r\nFrom b Mon Jan  1 00:00:01 2024\n"
           b"Subject: no final newline\n\ntruncated")
    box2 = Box(env, "bob", odd)
    env.start()
    p = env.client()
    p.cmd("USER " + box.user)
    r = p.cmd("PASS s3cret-pw")
    check(r.startswith("-ERR [SYS/PERM]"), "malformed mbox: %r" % r)
    p.close()
    env.wait_log(r"not an mbox")
    eq(box.read(), bad, "malformed mbox untouched")
    q = env.session(box2.user)
    eq(q.cmd("STAT").split()[1], "2", "STAT of the odd mbox")
    eq(retr(q, 1), b"Subject: crlf\r\n\r\nnul\0byte\r\n.\r\n", "RETR 1")
    eq(retr(q, 2), b"Subject: no final newline\r\n\r\ntruncated\r\n.\r\n",
       "RETR 2")
    eq(q.cmd("DELE 1")[:3], "+OK", "DELE 1")
    eq(q.cmd("QUIT")[:3], "+OK", "QUIT")
    q.close()
    eq(box2.read(), odd[odd.index(b"From b"):], "after deleting 1")


def test_mbox_mpop_fetches_byte_for_byte(env):
    mpop = ensure_tool("mpop", "mpop")
    bodies = BODIES + [b"From: big@test.example\nSubject: big\n\n" +
                       b"".join(b"line %d .\n" % i for i in range(5000))]
    box = Box(env, "alice", to_mbox(bodies), conf="escape = mboxrd\n")
    env.start()
    out = tempfile.mkdtemp(dir=env.dir)
    rc = os.path.join(env.dir, "mpoprc")
    with open(rc, "w") as f:
        f.write("account default\nhost 127.0.0.1\nport %d\ntls off\n"
                "auth user\nuser %s\npassword s3cret-pw\n"
                "received_header off\nkeep off\n"
                "delivery mda \"cat > %s/msg.$$\"\n"
                % (env.port, box.user, out))
    os.chmod(rc, 0o600)
    r = subprocess.run([mpop, "-C", rc, "-a", "-q"], capture_output=True,
                       timeout=60)
    eq(r.returncode, 0, "mpop: %r %r" % (r.stdout, r.stderr))
    got = []
    for fn in os.listdir(out):
        with open(os.path.join(out, fn), "rb") as f:
            got.append(f.read().replace(b"\r\n", b"\n"))
    eq(sorted(got), sorted(bodies), "messages fetched by mpop")
    # keep off: mpop deleted them all on the server
    env.wait_log(r"event=logout user=%s .*dele=4/" % box.user)
    eq(box.read(), b"", "mbox after mpop")
    shutil.rmtree(out, ignore_errors=True)
