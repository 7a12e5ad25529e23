"""Abuse and faults (issue 12): limits shared by all workers, a full pool
refused at once, timeout_login against a trickle, the tarpit, throttled
restarts when workers cannot start, children that die with the master,
a dead agent's dotlock, and the fail2ban filter.

The abusers connect from 127.0.0.2, the honest clients from 127.0.0.3
(every 127.0.0.0/8 address reaches loopback).  Every loop is bounded in
count and time."""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from satchel import (DEFAULT_PASSWORD, Pop, alive, check, ensure_tool, eq,
                     pids_in_group, proc_cmdline, simple_message, try_login,
                     wait_for)

ABUSER = "127.0.0.2"
HONEST = "127.0.0.3"
HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(os.path.dirname(HERE))
FILTER = os.path.join(SRCDIR, "packaging", "fail2ban", "filter.d",
                      "satchel.conf")


def _first_line(env, source, timeout=5):
    """Connect from source; the first line the server sends, or None if
    it closed without one.  Returns (line, socket-owning Pop or None)."""
    p = Pop(env.port, source=source, timeout=timeout, greeting=False)
    try:
        return p.line(), p
    except (EOFError, ConnectionResetError):
        p.close()
        return None, None


def _login_ok(env, user, source=HONEST):
    """True if a login works now (a refusal or a closed line is False)."""
    try:
        return try_login(env, user, DEFAULT_PASSWORD, source=source,
                         timeout=5).startswith("+OK")
    except (EOFError, OSError):
        return False


def _login_within(env, user, seconds, source=HONEST):
    t0 = time.monotonic()
    r = try_login(env, user, DEFAULT_PASSWORD, source=source,
                  timeout=seconds)
    took = time.monotonic() - t0
    check(r.startswith("+OK"), "login from %s: %r" % (source, r))
    check(took < seconds, "login took %.1f s" % took)
    return took


def test_300_idle_from_one_address(env):
    """The 21st connection from one address is refused at once with
    [SYS/TEMP]; 300 of them do not stop a login from elsewhere."""
    user = env.add_user("alice", messages=[simple_message(1)])
    env.start()
    held, refused = [], 0
    try:
        for i in range(300):
            line, p = _first_line(env, ABUSER)
            if i < 20:
                check(line is not None and line.startswith("+OK"),
                      "connection %d from the abuser: %r" % (i + 1, line))
                held.append(p)
                continue
            if i == 20:
                check(line is not None and
                      line.startswith("-ERR [SYS/TEMP]"),
                      "21st connection: %r" % line)
            if line is not None and line.startswith("-ERR [SYS/TEMP]"):
                refused += 1
            if p is not None:
                # refused: the server closes at once
                check(p.closed(2), "a refused connection stayed open")
                p.close()
        eq(refused, 280, "connections refused beyond 20")
        _login_within(env, user, 5)
        env.wait_log(r"event=limit addr=127\.0\.0\.2 user=- "
                     r"limit=max_connections_per_ip result=refused")
        # the 20 held connections still work
        eq(held[0].cmd("CAPA")[:3], "+OK", "CAPA on a held connection")
    finally:
        for p in held:
            p.close()
    check(alive(env.pid), "master died")


def test_pool_full_refused_at_once(env):
    """workers_max busy: a new client gets -ERR [SYS/TEMP] at once from
    the master instead of waiting silently in the backlog."""
    user = env.add_user("alice", messages=[simple_message(1)])
    env.start(workers_max=4, workers_min_spare=2, workers_max_spare=4,
              max_connections_per_ip=0, max_preauth_connections=10)
    held = []
    try:
        for i in range(4):
            line, p = _first_line(env, ABUSER)
            check(line is not None and line.startswith("+OK"),
                  "connection %d: %r" % (i + 1, line))
            held.append(p)
        t0 = time.monotonic()
        line, p = _first_line(env, HONEST, timeout=5)
        took = time.monotonic() - t0
        check(line is not None and line.startswith("-ERR [SYS/TEMP]"),
              "a client of a full pool: %r" % line)
        check(took < 1, "the refusal took %.2f s" % took)
        check(p.closed(2), "refused connection left open")
        p.close()
        env.wait_log(r"event=limit addr=127\.0\.0\.3 user=- "
                     r"limit=workers_max result=busy")
    finally:
        for p in held:
            p.close()
    # a freed worker serves again
    wait_for(lambda: _login_ok(env, user), 10, 0.3,
             "a login once the pool has room")


def test_preauth_cap(env):
    env.start(max_connections_per_ip=0, max_preauth_connections=3,
              workers_min_spare=4, workers_max_spare=8)
    held = []
    try:
        for i in range(3):
            line, p = _first_line(env, ABUSER)
            check(line is not None and line.startswith("+OK"),
                  "connection %d: %r" % (i + 1, line))
            held.append(p)
        line, p = _first_line(env, HONEST)
        check(line is not None and line.startswith("-ERR [SYS/TEMP]"),
              "4th connection in AUTHORIZATION: %r" % line)
        if p:
            p.close()
        env.wait_log(r"event=limit addr=127\.0\.0\.3 user=- "
                     r"limit=max_preauth_connections result=refused")
    finally:
        for p in held:
            p.close()


def test_sessions_per_user(env):
    user = env.add_user("alice", messages=[simple_message(1)])
    env.add_user("bob", messages=[simple_message(2)])
    env.start(max_sessions_per_user=1)
    first = env.session(user, source=HONEST)
    try:
        with env.client(source=HONEST) as p:
            eq(p.cmd("USER " + user), "+OK", "USER")
            r = p.cmd("PASS " + DEFAULT_PASSWORD)
            check(r.startswith("-ERR [SYS/TEMP]"), "second session: %r" % r)
            check(p.closed(2), "not closed after the refusal")
        env.wait_log(r"event=limit addr=127\.0\.0\.3 user=%s "
                     r"limit=max_sessions_per_user result=refused"
                     % re.escape(user))
        # another user is not affected; the first session still works
        check(try_login(env, "bob@test.example", DEFAULT_PASSWORD,
                        source=HONEST).startswith("+OK"), "bob")
        eq(first.cmd("STAT").split()[:2], ["+OK", "1"], "first session")
    finally:
        first.close()


def test_trusted_exempt_only_when_asked(env):
    env.start(max_connections_per_ip=2, trusted_networks="127.0.0.2/32",
              limits_exempt_trusted="yes", workers_min_spare=4)
    held = []
    try:
        for i in range(4):
            line, p = _first_line(env, ABUSER)
            check(line is not None and line.startswith("+OK"),
                  "trusted connection %d: %r" % (i + 1, line))
            held.append(p)
        for i in range(3):
            line, p = _first_line(env, HONEST)
            if i < 2:
                check(line is not None and line.startswith("+OK"),
                      "untrusted connection %d: %r" % (i + 1, line))
                held.append(p)
            else:
                check(line is not None and
                      line.startswith("-ERR [SYS/TEMP]"),
                      "3rd untrusted connection: %r" % line)
                if p:
                    p.close()
    finally:
        for p in held:
            p.close()


def test_trickle_closed_by_timeout_login(env):
    """One byte every 3 s keeps timeout_preauth's idle rule happy, but
    not the absolute timeout_login."""
    env.start(timeout_login=6, timeout_preauth=60)
    p = Pop(env.port, source=ABUSER, timeout=15)
    check(p.greeting.startswith("+OK"), "greeting %r" % p.greeting)
    t0 = time.monotonic()
    got = None
    try:
        for ch in b"CAPA\r\nCAPA\r\n":
            try:
                p.sock.sendall(bytes([ch]))
            except OSError:
                break
            p.sock.settimeout(3)
            try:
                data = p.sock.recv(4096)
            except socket.timeout:
                continue
            if data == b"":
                break
            got = (got or b"") + data
            if b"took too long" in got:
                break
    finally:
        took = time.monotonic() - t0
    check(got is not None and b"-ERR Login took too long" in got,
          "no timeout_login reply: %r" % got)
    check(p.closed(3), "the trickle is still connected")
    p.close()
    check(5 <= took <= 10, "closed after %.1f s (timeout_login 6)" % took)
    env.wait_log(r"event=limit addr=127\.0\.0\.2 user=- "
                 r"limit=timeout_login result=refused")
    env.wait_log(r"reason=login-timeout")


def test_sasl_trickle_closed_by_timeout_login(env):
    """The deadline also covers a SASL exchange fed one byte at a time."""
    env.start(timeout_login=5, timeout_preauth=60)
    p = Pop(env.port, source=ABUSER, timeout=15)
    eq(p.cmd("AUTH PLAIN"), "+ ", "AUTH PLAIN continuation")
    t0 = time.monotonic()
    got = b""
    for ch in b"AGFsaWNlAHMzY3JldA==":
        try:
            p.sock.sendall(bytes([ch]))
        except OSError:
            break
        p.sock.settimeout(2)
        try:
            data = p.sock.recv(4096)
        except socket.timeout:
            continue
        got += data
        if data == b"":
            break
    took = time.monotonic() - t0
    check(took <= 9, "a SASL trickle lasted %.1f s (timeout_login 5)" % took)
    check(p.closed(3), "the SASL trickle is still connected")
    p.close()
    env.wait_log(r"event=limit addr=127\.0\.0\.2 user=- "
                 r"limit=timeout_login result=refused")


def _delays(env, start):
    """The delays the auth pool applied, from its failure lines."""
    return [int(x) for x in re.findall(r"event=auth-check user=\S+ addr=\S+ "
                                       r"mech=\S+ result=fail failures=\d+ "
                                       r"delay_ms=(\d+)",
                                       env.log()[start:])]


def test_tarpit_per_address_across_connections(env):
    """Failures from one address slow down the next connection's first
    failure, whatever the user; an allow-listed address is not counted.
    Each try is a new connection, so a new worker: the counts live in
    the master's shared memory."""
    env.start(login_fail_delay_ms=100, tarpit_allow="127.0.0.3/32")
    start = len(env.log())
    for i in range(5):
        r = try_login(env, "nobody%d@test.example" % i, "wrong",
                      source=ABUSER)
        check(r.startswith("-ERR [AUTH]"), "bad login: %r" % r)
    eq(_delays(env, start), [100, 200, 400, 800, 1600],
       "delays for new users from one address")
    start = len(env.log())
    t0 = time.monotonic()
    r = try_login(env, "fresh@test.example", "wrong", source=ABUSER)
    check(time.monotonic() - t0 >= 1.5, "the delay was not applied")
    eq(_delays(env, start), [1600], "capped at 2^4 x base")
    # the allow-listed address: every new user starts at the base
    start = len(env.log())
    for i in range(4):
        try_login(env, "other%d@test.example" % i, "wrong", source=HONEST)
    eq(_delays(env, start), [100, 100, 100, 100],
       "delays from an allow-listed address")
    # but a user's own failures still count from there
    start = len(env.log())
    for i in range(3):
        try_login(env, "target@test.example", "wrong", source=HONEST)
    eq(_delays(env, start), [100, 200, 400], "per-user delays")


def test_chroot_removed_throttled(env):
    """Workers that cannot start (the chroot directory was deleted) are
    retried with a growing delay and few log lines; clients meanwhile
    get [SYS/TEMP] at once; the server serves again once it is back."""
    user = env.add_user("alice", messages=[simple_message(1)])
    env.start(workers_min_spare=2, workers_max_spare=4)
    gone = env.empty + ".gone"
    os.rename(env.empty, gone)
    start = len(env.log())
    try:
        # use up the spare workers forked before the removal
        answers = []
        for _ in range(4):
            line, p = _first_line(env, HONEST, timeout=3)
            check(line is not None, "no answer at all while workers fail")
            answers.append(line[:15])
            if p:
                if line.startswith("+OK"):
                    p.cmd("QUIT")
                p.close()
        check("-ERR [SYS/TEMP]" in answers,
              "never refused once the spares were gone: %r" % answers)
        time.sleep(15)
        tail = env.log()[start:]
        fails = re.findall(r"chroot", tail)
        pauses = re.findall(r"workers die before serving .* next start "
                            r"in (\d+) s", tail)
        check(1 <= len(pauses) <= 6, "pause lines in 15 s: %d" % len(pauses))
        check(len(fails) <= 8, "chroot failures logged in 15 s: %d"
              % len(fails))
        eq([int(x) for x in pauses], [1, 2, 4, 8][:len(pauses)],
           "growing pauses")
    finally:
        os.rename(gone, env.empty)
    t0 = time.monotonic()
    wait_for(lambda: _login_ok(env, user), 40, 0.5,
             "a login once the chroot is back")
    check(time.monotonic() - t0 < 20, "recovery took %.1f s"
          % (time.monotonic() - t0))
    env.wait_log(r"workers start again", 5, start)
    check(alive(env.pid), "master died")


def test_auth_deaths_throttled(env):
    """Auth processes that keep dying right after their start are
    restarted after growing pauses, not in a loop."""
    user = env.add_user("alice", messages=[simple_message(1)])
    env.start(auth_processes=2)
    start = len(env.log())
    killed = set()
    t_end = time.monotonic() + 8
    while time.monotonic() < t_end:
        for pid, title in env.children().items():
            if title.startswith("satcheld: auth") and pid not in killed:
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed.add(pid)
                except ProcessLookupError:
                    pass
        time.sleep(0.02)
    pauses = [int(x) for x in re.findall(
        r"auth processes die before serving .* next start in (\d+) s",
        env.log()[start:])]
    check(2 <= len(killed) <= 8, "auth processes started in 8 s: %d"
          % len(killed))
    eq(pauses, [1, 2, 4, 8][:len(pauses)], "growing pauses")
    check(len(pauses) >= 2, "pauses: %r" % pauses)
    wait_for(lambda: _login_ok(env, user), 20, 0.5,
             "a login once auth processes stay up")
    check(alive(env.pid), "master died")


def test_master_kill9_leaves_nothing(env):
    user = env.add_user("alice", messages=[simple_message(1)])
    env.start(workers_min_spare=3)
    live = env.session(user, source=HONEST)
    pre = Pop(env.port, source=ABUSER)
    group = [p for p in pids_in_group(env.pid) if p != env.pid]
    check(any((proc_cmdline(p) or "").startswith("satcheld: agent")
              for p in group), "no agent for the live session")
    check(any((proc_cmdline(p) or "").startswith("satcheld: auth")
              for p in group), "no auth process")
    os.kill(env.pid, signal.SIGKILL)
    env.proc.wait(5)

    def none_left():
        return not [p for p in pids_in_group(env.pid)
                    if (proc_cmdline(p) or "").startswith("satcheld")]
    t0 = time.monotonic()
    wait_for(none_left, 2, 0.05, "every satcheld process to exit "
             "(left: %r)" % {p: proc_cmdline(p)
                             for p in pids_in_group(env.pid)})
    took = time.monotonic() - t0
    check(took < 2, "children took %.1f s" % took)
    check(live.closed(2), "the live session is still served")
    check(pre.closed(2), "the connection in AUTHORIZATION is still open")
    live.close()
    pre.close()
    # and the port is free for a new master
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", env.port))
    s.close()


def test_dead_agent_dotlock_broken(env):
    """kill -9 of an agent while it rewrites the mbox leaves <mbox>.lock
    with its pid: the next login breaks it at once."""
    from test_mbox import Box, to_mbox
    big = [b"From: a@b\nSubject: %d\n\n" % i + b"x" * 20000 + b"\n"
           for i in range(1500)]
    box = Box(env, "alice", to_mbox(big), conf="lock_timeout_ms = 3000\n")
    env.start()
    lock = box.path + ".lock"
    p = env.session(box.user, source=HONEST)
    agents = env.group_procs("satcheld: agent " + box.user)
    eq(len(agents), 1, "agents")
    eq(p.cmd("DELE 1")[:3], "+OK", "DELE")
    p.send("QUIT\r\n")
    caught = False
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and alive(agents[0]):
        if os.path.exists(lock):
            os.kill(agents[0], signal.SIGKILL)
            caught = True
            break
    p.close()
    wait_for(lambda: not alive(agents[0]), 5, what="the agent to exit")
    if not caught or not os.path.exists(lock):
        # the rewrite was too quick to catch: leave the dotlock the way
        # the killed agent would have, with its (dead) pid
        with open(lock, "w") as f:
            f.write("%d %s\n" % (agents[0], socket.gethostname()))
    else:
        with open(lock) as f:
            eq(int(f.read().split()[0]), agents[0], "pid in the dotlock")
    check(os.path.exists(lock), "the dotlock is gone already")
    start = len(env.log())
    t0 = time.monotonic()
    q = env.session(box.user, source=HONEST)
    took = time.monotonic() - t0
    check(took < 2, "login under a dead owner's dotlock took %.1f s" % took)
    eq(q.cmd("STAT").split()[1], "1500", "messages after the killed rewrite")
    eq(q.cmd("QUIT")[:3], "+OK", "QUIT")
    q.close()
    env.wait_log(r"removed stale lock .*\.lock: its owner, pid \d+, is "
                 r"dead", 5, start)
    # a live owner's lock is still respected
    holder = subprocess.Popen(["sleep", "30"])
    try:
        with open(lock, "w") as f:
            f.write("%d\n" % holder.pid)
        r = try_login(env, box.user, DEFAULT_PASSWORD, source=HONEST)
        check(r.startswith("-ERR [SYS/TEMP]"), "live owner's lock: %r" % r)
        check(os.path.exists(lock), "a live owner's lock was broken")
    finally:
        holder.kill()
        holder.wait()
        if os.path.exists(lock):
            os.unlink(lock)


def _dead_pid():
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_fail2ban_regex(env):
    """Debian's fail2ban-regex on the log of a run with every kind of
    failed, refused and limited login, and good ones."""
    f2b = ensure_tool("fail2ban-regex", "fail2ban")
    user = env.add_user("alice", messages=[simple_message(1)])
    env.start(max_connections_per_ip=3, timeout_login=2,
              max_sessions_per_user=1)
    for i in range(3):
        try_login(env, user, "wrong%d" % i, source=ABUSER)
    try_login(env, "ghost@test.example", "x", source=HONEST)
    check(try_login(env, user, DEFAULT_PASSWORD,
                    source=HONEST).startswith("+OK"), "good login")
    held = [Pop(env.port, source=ABUSER) for _ in range(3)]
    line, p = _first_line(env, ABUSER)
    check(line.startswith("-ERR [SYS/TEMP]"), "4th connection: %r" % line)
    if p:
        p.close()
    for h in held:
        check(h.closed(5), "timeout_login did not close a held connection")
        h.close()
    s1 = env.session(user, source=HONEST)
    check(try_login(env, user, DEFAULT_PASSWORD,
                    source=HONEST).startswith("-ERR [SYS/TEMP]"),
          "second session of one user")
    s1.close()
    env.wait_log(r"limit=max_sessions_per_user result=refused")
    env.wait_log(r"limit=timeout_login result=refused")

    log = env.log().splitlines()
    failures = [ln for ln in log if re.search(
        r"event=(auth|limit) .*result=(fail|refused)( |$)", ln)]
    successes = [ln for ln in log if "result=ok" in ln]
    check(len(failures) >= 8, "failure lines: %r" % failures)
    check(len(successes) >= 2, "success lines: %r" % successes)
    for ln in failures:
        check("addr=" in ln and "user=" in ln, "no addr/user: %r" % ln)

    d = tempfile.mkdtemp(prefix="satchel-f2b-")
    try:
        fd = os.path.join(d, "filter.d")
        os.mkdir(fd)
        shutil.copy("/etc/fail2ban/filter.d/common.conf", fd)
        shutil.copy(FILTER, fd)
        # the foreground log as written, and as syslog would write it
        raw = os.path.join(d, "satcheld.log")
        sysl = os.path.join(d, "mail.log")
        with open(raw, "w") as f:
            f.write("\n".join(log) + "\n")
        with open(sysl, "w") as f:
            for ln in log:
                f.write(re.sub(r"^satcheld\[(\d+)\] ",
                               time.strftime("%b %e %H:%M:%S") +
                               r" mailhost satcheld[\1]: ", ln) + "\n")
        for path, conv in ((raw, lambda x: x), (sysl, None)):
            r = subprocess.run([f2b, "--out", "msg", path,
                                os.path.join(fd, "satchel.conf")],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=60)
            eq(r.returncode, 0, "fail2ban-regex: %r" % r.stderr[-500:])
            matched = r.stdout.decode(errors="replace").splitlines()
            matched = [re.sub(r"^.* satcheld\[(\d+)\]: ",
                              r"satcheld[\1] ", m) for m in matched]
            for ln in failures:
                check(ln in matched, "%s: not matched: %r" % (
                    os.path.basename(path), ln))
            for ln in successes:
                check(ln not in matched, "%s: a success matched: %r" % (
                    os.path.basename(path), ln))
            eq(len(matched), len(failures), "matched lines in %s"
               % os.path.basename(path))
    finally:
        shutil.rmtree(d, ignore_errors=True)
