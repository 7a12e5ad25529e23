"""UIDL compatibility with real Dovecot (issue 13): Debian's dovecot-pop3d
runs with a private config on loopback (its own base_dir and state_dir in
the test's directory, a passwd-file user with the mail user's uid) on a
Maildir and on an mbox, with its default pop3_uidl_format = %08Xu%08Xv;
Satchel then serves the same mailbox with uidl_format = %08Xu%08Xv and
must give the same UIDL list, also for mail delivered after Dovecot ran.
Real fetchmail (keep, UIDL tracking) pointed first at Dovecot and then at
Satchel downloads no message twice.  satchel-uidl capture/import/verify
round trip against Dovecot with pop3_uidl_format = %f."""
import os
import re
import subprocess

from compat_helpers import Dovecot, MboxBox
from satchel import (DEFAULT_PASSWORD, Pop, check,
                     ensure_tool, eq, free_port)

FMT = "%08Xu%08Xv"


def uidl_list(port, user):
    """[(n, uidl)] and {n: size} of one session, which ends with QUIT."""
    with Pop(port) as p:
        check(p.greeting.startswith("+OK"), "greeting")
        st = p.login(user)
        check(st.startswith("+OK"), "login on %d: %r" % (port, st))
        st, lines = p.cmd_multi("UIDL")
        check(st.startswith("+OK"), "UIDL on %d: %r" % (port, st))
        u = [tuple(x.split(" ", 1)) for x in lines]
        p.cmd("QUIT")
    return [(int(n), v) for n, v in u]


def new_message(i, body=b"hello"):
    return (b"From: sender%d@test.example\nTo: alice@test.example\n"
            b"Subject: message %d\nMessage-ID: <m%d@test.example>\n"
            b"Date: Mon, 1 Jan 2024 00:00:%02d +0000\n\n%s %d\n" % (
                i, i, i, i % 60, body, i))


def deliver_maildir(env, user, i):
    name = "%d.M%dP%d.deliver" % (1700001000 + i, i, 4000 + i)
    env.put_message(user, "new", name, new_message(i))
    return name


def test_dovecot_maildir_same_uidls(env):
    user = env.add_user("alice", messages=[new_message(i) for i in
                                           range(4)])
    for i in range(4, 6):
        deliver_maildir(env, user, i)   # new/, no :2, yet
    md = env.maildir(user)
    dc = Dovecot(env, user, "maildir:%s" % md)
    try:
        dc.start()
        dlist = uidl_list(dc.port, user)
        eq(len(dlist), 6, "Dovecot's message count")
        check(all(re.fullmatch(r"[0-9a-f]{16}", u) for _, u in dlist),
              "Dovecot's UIDLs look like %%08Xu%%08Xv: %r" % dlist)
    finally:
        dc.stop()
    check(os.path.exists(os.path.join(md, "dovecot-uidlist")),
          "Dovecot wrote dovecot-uidlist")
    # Mail that Dovecot never saw: Satchel numbers it as Dovecot would.
    for i in range(6, 9):
        deliver_maildir(env, user, i)
    env.start(uidl_format=FMT)
    slist = uidl_list(env.port, user)
    eq(slist[:6], dlist, "Satchel's UIDLs of the messages Dovecot listed")
    eq(len(slist), 9, "Satchel's count")
    again = uidl_list(env.port, user)
    eq(again, slist, "the next Satchel session")
    env.stop()
    # Dovecot again on the same Maildir: the same list for all nine.
    dc2 = Dovecot(env, user, "maildir:%s" % md)
    try:
        dc2.start()
        eq(uidl_list(dc2.port, user), slist,
           "Dovecot after Satchel, new mail included")
    finally:
        dc2.stop()


def mbox_from(i):
    return b"From sender%d@test.example Mon Jan  1 00:00:%02d 2024\n" % (
        i, i % 60)


def mbox_of(msgs):
    """[(i, message)] -> mbox bytes."""
    return b"".join(mbox_from(i) + m + b"\n" for i, m in msgs)


def test_dovecot_mbox_same_uidls(env):
    box = MboxBox(env, "alice", mbox_of((i, new_message(i)) for i in
                                          range(4)))
    dc = Dovecot(env, box.user, box.dovecot_mail())
    try:
        dc.start()
        dlist = uidl_list(dc.port, box.user)
        eq(len(dlist), 4, "Dovecot's message count")
    finally:
        dc.stop()
    data = box.read()
    check(b"\nX-IMAPbase: " in data and b"\nX-UID: " in data,
          "Dovecot wrote X-IMAPbase/X-UID: %r" % data[:400])
    for i in range(4, 7):
        box.append(mbox_of([(i, new_message(i))]))  # Dovecot never saw
    env.start(uidl_format=FMT)
    slist = uidl_list(env.port, box.user)
    eq(slist[:4], dlist, "Satchel's UIDLs of the messages Dovecot listed")
    eq(len(slist), 7, "Satchel's count")
    eq(uidl_list(env.port, box.user), slist, "the next Satchel session")
    env.stop()
    dc2 = Dovecot(env, box.user, box.dovecot_mail())
    try:
        dc2.start()
        eq(uidl_list(dc2.port, box.user), slist,
           "Dovecot after Satchel, new mail included")
    finally:
        dc2.stop()


MD5_MSGS = [
    # Date and Message-ID hashed (no Received).
    b"From: a@test.example\nDate: Mon, 1 Jan 2024 00:00:01 +0000\n"
    b"Message-ID: <md5-1@test.example>\nSubject: one\n\nbody\n",
    # Date before the first Received counts, after it not; a folded
    # Received; a second Received is not hashed.
    b"Date: Mon, 1 Jan 2024 00:00:02 +0000\nReceived: from a by b;\n"
    b"\tMon, 1 Jan 2024 00:00:02 +0000\n  (folded twice)\n"
    b"Received: from c by d; Mon, 1 Jan 2024 00:00:00 +0000\n"
    b"Message-ID: <md5-2@test.example>\nSubject: two\n\nbody\n",
    # Delivered-To and X-Delivery-ID always; names in other cases, LWSP
    # before ':', no space after it.
    b"delivered-to: alice@test.example\nDELIVERED-TO:bob@test.example\n"
    b"X-Delivery-ID : 42\nmessage-id:<md5-3@test.example>\n"
    b"Subject: three\n\nbody\n",
    # None of them: the MD5 of nothing.
    b"From: b@test.example\nSubject: four\n\nbody\n",
    # CRLF line ends; a header with trailing spaces; no body.
    b"Received: by x; Mon, 1 Jan 2024 00:00:05 +0000  \r\n"
    b"Message-ID: <md5-5@test.example>\r\nSubject: five\r\n",
    # Only a Date, twice.
    b"Date: Mon, 1 Jan 2024 00:00:06 +0000\nDate:   again\n\nb\n",
]


def test_dovecot_mbox_md5_uidls(env):
    """uidl_format = %m on an mbox: Satchel's UIDL list is Dovecot's
    (pop3_uidl_format = %m, its default mbox_md5 = apop3d)."""
    # In [mbox]: the top-level key would be the maildir module's too,
    # which refuses %m.
    box = MboxBox(env, "alice", mbox_of(enumerate(MD5_MSGS)),
                  conf="uidl_format = %m\n")
    dc = Dovecot(env, box.user, box.dovecot_mail(), uidl_format="%m")
    try:
        dc.start()
        dlist = uidl_list(dc.port, box.user)
    finally:
        dc.stop()
    eq(len(dlist), len(MD5_MSGS), "Dovecot's message count")
    check(all(re.fullmatch(r"[0-9a-f]{32}", u) for _, u in dlist),
          "Dovecot's %%m UIDLs: %r" % dlist)
    eq(len(set(u for _, u in dlist)), len(MD5_MSGS),
       "Dovecot's %m UIDLs are distinct")
    env.start()
    slist = uidl_list(env.port, box.user)
    eq(slist, dlist, "Satchel's %m UIDLs vs Dovecot's")
    eq(uidl_list(env.port, box.user), slist, "the next Satchel session")
    # (Maildir: refused, test_uidl_format_config_checked.)


def fetchmail(env, port, user, idfile, out):
    """One fetchmail run (keep, UIDL tracking) into out; its output."""
    ensure_tool("fetchmail", "fetchmail")
    rc = os.path.join(env.dir, "fetchmailrc")
    mda = os.path.join(env.dir, "mda.sh")
    with open(mda, "w") as f:
        f.write("#!/bin/sh\ncat >> '%s'\necho '=====END=====' >> '%s'\n"
                % (out, out))
    os.chmod(mda, 0o755)
    with open(rc, "w") as f:
        f.write('set no bouncemail\n'
                'poll 127.0.0.1 service %d protocol pop3 uidl\n'
                '  auth password timeout 20\n'
                '  user "%s" there with password "%s" is root here\n'
                '  keep sslproto "" no sslcertck\n'
                '  mda "%s"\n' % (port, user, DEFAULT_PASSWORD, mda))
    os.chmod(rc, 0o600)
    r = subprocess.run(["fetchmail", "-f", rc, "--idfile", idfile,
                        "--nosyslog", "-N", "-v"],
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, HOME=env.dir))
    # 0: mail fetched, 1: no mail.
    check(r.returncode in (0, 1), "fetchmail exited %d:\n%s\n%s" % (
        r.returncode, r.stdout[-2000:], r.stderr[-2000:]))
    return r.stdout + r.stderr


def delivered(out):
    try:
        with open(out, "rb") as f:
            return f.read().count(b"=====END=====\n")
    except FileNotFoundError:
        return 0


def test_fetchmail_dovecot_then_satchel(env):
    user = env.add_user("alice", messages=[new_message(i) for i in
                                           range(5)])
    md = env.maildir(user)
    idfile = os.path.join(env.dir, "fetchids")
    out = os.path.join(env.dir, "delivered")
    dc = Dovecot(env, user, "maildir:%s" % md)
    try:
        dc.start()
        fetchmail(env, dc.port, user, idfile, out)
    finally:
        dc.stop()
    eq(delivered(out), 5, "fetchmail's first run, from Dovecot")
    deliver_maildir(env, user, 5)
    deliver_maildir(env, user, 6)
    env.start(uidl_format=FMT)
    log = fetchmail(env, env.port, user, idfile, out)
    eq(delivered(out), 7, "after the switch only the 2 new messages "
       "(fetchmail said:\n%s)" % log[-1500:])
    fetchmail(env, env.port, user, idfile, out)
    eq(delivered(out), 7, "a third run fetches nothing")
    # Satchel moved the fetched mail from new/ to cur/ keeping the base
    # names: back on Dovecot, nothing is fetched again either.
    check(not os.listdir(os.path.join(md, "new")), "new/ emptied")
    env.stop()
    dc2 = Dovecot(env, user, "maildir:%s" % md)
    try:
        dc2.start()
        fetchmail(env, dc2.port, user, idfile, out)
    finally:
        dc2.stop()
    eq(delivered(out), 7, "back on Dovecot: nothing twice")
    # Without uidl_format the same switch fetches all 7 again (checked
    # by hand: the count above is then 12).
    eq(len(env.files(user)), 7, "keep: every message still there")


def uidl_tool(env, *args):
    tool = os.path.join(env.builddir, "satchel-uidl")
    pwf = os.path.join(env.dir, "uidl-pass")
    with open(pwf, "w") as f:
        f.write(DEFAULT_PASSWORD + "\n")
    os.chmod(pwf, 0o600)
    return subprocess.run([tool, args[0], "-w", pwf] + list(args[1:]),
                          capture_output=True, text=True, timeout=60)


def test_uidl_tool_import_verify_dovecot(env):
    # Dovecot-style names with size hints: Dovecot's %f keeps them,
    # Satchel's native UID (the unique part) does not, so they differ.
    msgs = []
    for i in range(5):
        data = new_message(i, b"round trip")
        msgs.append(("cur", "%d.M%dP%d.oldhost,S=%d,W=%d:2,S" % (
            1700002000 + i, i, 5000 + i, len(data), len(data) + 6), data))
    user = env.add_user("alice", messages=msgs)
    md = env.maildir(user)
    dc = Dovecot(env, user, "maildir:%s" % md, uidl_format="%f")
    cap = os.path.join(env.dir, "alice.capture")
    try:
        dc.start()
        old = "127.0.0.1:%d" % dc.port
        r = uidl_tool(env, "capture", "-u", user, "-o", cap, old)
        check(r.returncode == 0, "capture: %s %s" % (r.stdout, r.stderr))
        with open(cap) as f:
            lines = f.read().splitlines()
        eq(len(lines), 6, "capture: a header and 5 messages")
        check(all(",S=" in ln.split()[3] for ln in lines[1:]),
              "Dovecot's %%f UIDLs keep the hints: %r" % lines)
        env.start()
        new = "127.0.0.1:%d" % env.port
        r = uidl_tool(env, "verify", "-u", user, old, new)
        eq(r.returncode, 1, "verify before import finds differences "
           "(%s)" % r.stdout)
        eq(r.stdout.count("differs:"), 5, "five differences: %s" % r.stdout)
        r = uidl_tool(env, "import", "-u", user, "-i", cap, "-m", md, new)
        check(r.returncode == 0, "import: %s %s" % (r.stdout, r.stderr))
        pins = os.path.join(md, ".satchel.uidl-pins")
        st = os.stat(pins)
        eq((st.st_uid, st.st_mode & 0o777), (env.mail_pw.pw_uid, 0o600),
           "pins file owner and mode")
        check("5 pinned" in r.stdout, "import: %s" % r.stdout)
        r = uidl_tool(env, "verify", "-u", user, old, new)
        eq(r.returncode, 0, "verify after import: %s %s" % (r.stdout,
                                                           r.stderr))
        eq(uidl_list(env.port, user), uidl_list(dc.port, user),
           "Satchel's UIDL list after import equals Dovecot's")
        # A message Dovecot never captured is served with its own UIDL.
        deliver_maildir(env, user, 9)
        slist = uidl_list(env.port, user)
        eq(len(slist), 6, "the new message is listed")
        # The tool fails closed on a bad password.
        bad = subprocess.run(
            [os.path.join(env.builddir, "satchel-uidl"), "verify", "-u",
             user, old, new], capture_output=True, text=True, timeout=30,
            env=dict(os.environ, SATCHEL_UIDL_PASSWORD="wrong"))
        eq(bad.returncode, 2, "verify with a wrong password: %s"
           % bad.stderr)
        check("refused" in bad.stderr, "says why: %r" % bad.stderr)
    finally:
        dc.stop()


def test_uidl_format_config_checked(env):
    """-t refuses a bad uidl_format, globally and in a section, and one
    the module cannot give (%m for Maildir, %f for mbox)."""
    env.add_user("alice")
    env.port = free_port()
    for over, extra, want in (
            ({"uidl_format": "%q"}, "", "unknown variable"),
            ({"uidl_format": "%Hu"}, "", "modifier not supported"),
            ({"uidl_format": "%m"}, "", "not available for Maildir"),
            ({}, "\n[maildir]\nuidl_format = %08Xu%",
             "ends inside a %-variable"),
            ({}, "\n[mbox]\nuidl_format = %f", "only %u, %v and %m work")):
        text = env.config_text(**over) + extra + "\n"
        path = os.path.join(env.dir, "check.conf")
        with open(path, "w") as f:
            f.write(text)
        r = subprocess.run([env.satcheld, "-t", "-c", path],
                           capture_output=True, timeout=30)
        out = (r.stdout + r.stderr).decode("latin-1")
        check(r.returncode != 0, "-t accepted %r %r: %s" % (over, extra,
                                                           out))
        check("uidl_format" in out and want in out,
              "-t names the key and says %r: %s" % (want, out))
    text = env.config_text(uidl_format=FMT) + "\n"
    with open(path, "w") as f:
        f.write(text)
    r = subprocess.run([env.satcheld, "-t", "-c", path],
                       capture_output=True, timeout=30)
    eq(r.returncode, 0, "-t accepts %s: %s" % (FMT, r.stderr))


def test_satchel_uidlist_state(env):
    """dovecot-uidlist read, never written; mail it does not list keeps
    its UIDs in .satchel.uidlist, a deleted message's UIDL never comes
    back; a broken dovecot-uidlist gives native UIDs and a log line."""
    names = []
    user = env.add_user("alice")
    for i in range(3):
        names.append("%d.M%dP1.h" % (1700003000 + i, i))
        env.put_message(user, "cur", names[-1] + ":2,S", new_message(i))
    md = env.maildir(user)
    ul = os.path.join(md, "dovecot-uidlist")
    text = ("3 V1000 N3 G0123456789abcdef0123456789abcdef\n"
            "1 :%s\n2 :%s\n" % (names[0], names[1])).encode()
    with open(ul, "wb") as f:
        f.write(text)
    os.chown(ul, env.mail_pw.pw_uid, env.mail_pw.pw_gid)
    env.start(uidl_format=FMT)
    u = lambda n: "%08x%08x" % (n, 1000)
    eq([x for _, x in uidl_list(env.port, user)], [u(1), u(2), u(3)],
       "listed UIDs 1, 2 and the next one for the unlisted message")
    deliver_maildir(env, user, 4)
    with env.session(user) as p:
        st, lines = p.cmd_multi("UIDL")
        eq(lines[3], "4 " + u(4), "new mail gets UID 4")
        check(p.cmd("DELE 3").startswith("+OK"), "DELE 3")
        check(p.cmd("QUIT").startswith("+OK"), "QUIT")
    deliver_maildir(env, user, 5)
    eq([x for _, x in uidl_list(env.port, user)],
       [u(1), u(2), u(4), u(5)], "UID 3 is never given again")
    with open(ul, "rb") as f:
        eq(f.read(), text, "dovecot-uidlist untouched")
    st = os.stat(os.path.join(md, ".satchel.uidlist"))
    eq(st.st_uid, env.mail_pw.pw_uid, "state file belongs to the user")
    with open(ul, "wb") as f:
        f.write(b"3 V0 garbage\n")
    lst = uidl_list(env.port, user)
    eq(len(lst), 4, "a broken dovecot-uidlist: the mailbox still opens")
    check(all(not re.fullmatch(r"[0-9a-f]{16}", x) for _, x in lst),
          "native UIDs: %r" % lst)
    env.wait_log(r"dovecot-uidlist unusable: native UIDs", timeout=5)


def test_uidl_tool_mbox_pins(env):
    """import pins Dovecot's UIDLs onto an mbox Satchel serves with its
    own (hash) UIDs: verify fails before, passes after."""
    box = MboxBox(env, "alice", mbox_of((i, new_message(i)) for i in
                                          range(3)))
    dc = Dovecot(env, box.user, box.dovecot_mail())
    cap = os.path.join(env.dir, "alice.capture")
    try:
        dc.start()
        old = "127.0.0.1:%d" % dc.port
        r = uidl_tool(env, "capture", "-u", box.user, "-o", cap, old)
        check(r.returncode == 0, "capture: %s %s" % (r.stdout, r.stderr))
        env.start()
        new = "127.0.0.1:%d" % env.port
        r = uidl_tool(env, "verify", "-u", box.user, old, new)
        eq(r.returncode, 1, "verify before import: %s" % r.stdout)
        r = uidl_tool(env, "import", "-u", box.user, "-i", cap, "-m",
                      box.path, new)
        check(r.returncode == 0 and "3 pinned" in r.stdout,
              "import: %s %s" % (r.stdout, r.stderr))
        pins = os.path.join(box.dir, ".alice.satchel-pins")
        eq(os.stat(pins).st_uid, env.mail_pw.pw_uid, "pins owner")
        r = uidl_tool(env, "verify", "-u", box.user, old, new)
        eq(r.returncode, 0, "verify after import: %s" % r.stdout)
        eq(uidl_list(env.port, box.user), uidl_list(dc.port, box.user),
           "the same UIDL list")
    finally:
        dc.stop()


def test_uidl_tool_tls(env):
    """The tool over implicit TLS and STLS (-k for a self-signed
    certificate); without -k an unknown certificate is refused."""
    ensure_tool("openssl", "openssl")
    cert = os.path.join(env.dir, "c.crt")
    key = os.path.join(env.dir, "c.key")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                        "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                        "-days", "2", "-keyout", key, "-out", cert, "-subj",
                        "/CN=localhost", "-addext",
                        "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                       capture_output=True, timeout=30)
    eq(r.returncode, 0, "openssl req")
    os.chmod(key, 0o600)
    user = env.add_user("alice", messages=[new_message(i) for i in
                                           range(2)])
    env.port = free_port()
    tlsport = free_port()
    env.start(listen="127.0.0.1:%d\nlisten = 127.0.0.1:%d tls"
              % (env.port, tlsport), tls_cert=cert, tls_key=key)
    plain = "127.0.0.1:%d" % env.port
    r = uidl_tool(env, "verify", "-k", "-u", user,
                  "127.0.0.1:%d/tls" % tlsport, plain)
    eq(r.returncode, 0, "verify over TLS: %s %s" % (r.stdout, r.stderr))
    check("2 equal" in r.stdout, r.stdout)
    r = uidl_tool(env, "verify", "-k", "-u", user, plain + "/stls", plain)
    eq(r.returncode, 0, "verify over STLS: %s %s" % (r.stdout, r.stderr))
    r = uidl_tool(env, "verify", "-u", user, "127.0.0.1:%d/tls" % tlsport,
                  plain)
    eq(r.returncode, 2, "an unknown certificate is refused: %s" % r.stderr)
    check("certificate" in r.stderr, r.stderr)


def retr_all(port, user):
    """UIDL list, LIST sizes and RETR bytes of one session."""
    with Pop(port) as p:
        st = p.login(user)
        check(st.startswith("+OK"), "login on %d: %r" % (port, st))
        st, lines = p.cmd_multi("UIDL")
        uidls = [x.split(" ", 1)[1] for x in lines]
        st, lines = p.cmd_multi("LIST")
        sizes = [int(x.split()[1]) for x in lines]
        got = []
        for i in range(len(uidls)):
            check(p.cmd("RETR %d" % (i + 1)).startswith("+OK"), "RETR")
            got.append(p.raw_multiline())
        p.cmd("QUIT")
    return uidls, sizes, got


def test_dovecot_uidlist_pop3_order(env):
    """The 'O' field of dovecot-uidlist (POP3 order, written by Dovecot's
    pop3-migration plugin): Satchel numbers the messages as Dovecot's
    POP3 does, by 'O' with the messages without one (or with a broken
    one) after them in UID order."""
    user = env.add_user("alice")
    names = []
    for i in range(6):
        names.append("%d.M%dP1.h" % (1700005000 + i, i))
        env.put_message(user, "cur", names[-1] + ":2,S",
                        new_message(i, b"message %d" % i))
    md = env.maildir(user)
    ul = os.path.join(md, "dovecot-uidlist")
    # UIDs 1..6; O: 3, 1, none, 2, broken, 10.
    text = ("3 V1000 N7 G0123456789abcdef0123456789abcdef\n"
            "1 O3 :%s\n2 O1 :%s\n3 :%s\n4 O2 :%s\n5 Ox1 :%s\n"
            "6 O10 :%s\n" % tuple(names)).encode()
    with open(ul, "wb") as f:
        f.write(text)
    os.chown(ul, env.mail_pw.pw_uid, env.mail_pw.pw_gid)
    dc = Dovecot(env, user, "maildir:%s" % md, uidl_format=FMT)
    try:
        dc.start()
        d_uidls, d_sizes, d_got = retr_all(dc.port, user)
    finally:
        dc.stop()
    eq(d_uidls, ["%08x%08x" % (u, 1000) for u in (2, 4, 1, 6, 3, 5)],
       "Dovecot lists by 'O', then the rest in UID order")
    env.start(uidl_format=FMT)
    s_uidls, s_sizes, s_got = retr_all(env.port, user)
    eq(s_uidls, d_uidls, "Satchel's order vs Dovecot's")
    eq(s_sizes, d_sizes, "LIST sizes")
    eq(s_got, d_got, "RETR bytes")
    with env.session(user) as p:
        check(p.cmd("DELE 1").startswith("+OK"), "DELE 1")
        check(p.cmd("QUIT").startswith("+OK"), "QUIT")
    eq(uidl_list(env.port, user), [(i + 1, u) for i, u in
                                   enumerate(d_uidls[1:])],
       "after DELE 1 (the message with O1) the order holds")
