"""The login path without forks: workers reused (worker_max_sessions),
mailbox agents reused for later sessions of the same uid, and an auth
pool that a slow module or a silent SASL client cannot hold up.

Two users in a row through one worker and one agent see only their own
mail, and the reused worker holds nothing of the first; a kill -9 of a
reused agent mid-session loses nothing; while two SCRAM exchanges wait
on silent clients and two PAM logins hang for 20 s, other users log in.
"""
import os
import re
import secrets
import signal
import socket
import subprocess
import threading
import time

import satchel as S
from satchel import check, eq, wait_for

ALICE_PW = "alice-reuse-Kd8"
BOB_PW = "bob-reuse-Qv3"
ALICE_BODY = b"alice-only-body-7f3a9c"
BOB_BODY = b"bob-only-body-2b8e41"


def message(marker, n):
    return (b"From: x@test.example\nSubject: %d\n\n%s %d\n" %
            (n, marker, n))


def memory(pid):
    out = []
    with open("/proc/%d/maps" % pid) as f:
        regions = [ln.split() for ln in f]
    with open("/proc/%d/mem" % pid, "rb", 0) as m:
        for parts in regions:
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            if "r" not in parts[1] or (len(parts) >= 6 and
                                       parts[5] in ("[vvar]", "[vsyscall]")):
                continue
            try:
                m.seek(lo)
                out.append(m.read(hi - lo))
            except (OSError, ValueError, OverflowError):
                pass
    return b"".join(out)


def session_worker(env, user, start):
    m = re.search(r"satcheld\[(\d+)\] worker: session=\S+ event=auth "
                  r"user=%s method=pass result=ok" % re.escape(user),
                  env.log()[start:])
    check(m, "no login line for %s" % user)
    return int(m.group(1))


def agent_of(env, user):
    pids = env.group_procs("satcheld: agent " + user)
    eq(len(pids), 1, "agents serving %s: %r" % (user, pids))
    return pids[0]


def _try_session(env, user, pw):
    try:
        return env.session(user, pw)
    except (S.Failure, OSError, EOFError):
        return None


def one_worker_session(env, user, pw):
    """With workers_max = 1 the master answers [SYS/TEMP] busy while the
    one worker is between sessions: a client tries again, as real ones
    do."""
    return wait_for(lambda: _try_session(env, user, pw), 5, 0.1,
                    what="a login of %s through the one worker" % user)


def reuse_env(env):
    alice = env.add_user("alice", password=ALICE_PW, plain=True,
                         messages=[message(ALICE_BODY, i) for i in (1, 2)])
    bob = env.add_user("bob", password=BOB_PW, plain=True,
                       messages=[message(BOB_BODY, i) for i in (1, 2, 3)])
    # One worker, reused; agents reused for the same uid (both are vmail).
    env.start(workers_max=1, workers_min_spare=1, workers_max_spare=1,
              worker_max_sessions=100, agent_max_sessions=100,
              max_connections_per_ip=0)
    return alice, bob


def test_two_users_one_worker_one_agent(env):
    alice, bob = reuse_env(env)
    start = len(env.log())
    p = one_worker_session(env, alice, ALICE_PW)
    eq(p.cmd("STAT").split()[:2], ["+OK", "2"], "alice's STAT")
    st, body = p.cmd_multi("RETR 1")
    check(ALICE_BODY.decode() in "\n".join(body), "alice's RETR")
    agent = agent_of(env, alice)
    worker = session_worker(env, alice, start)
    eq(p.cmd("QUIT")[:3], "+OK", "alice's QUIT")
    p.close()
    wait_for(lambda: S.proc_cmdline(agent) == "satcheld: agent (idle)", 5,
             what="alice's agent to go idle")

    env.wait_idle(1, 5)
    start = len(env.log())
    q = one_worker_session(env, bob, BOB_PW)
    eq(session_worker(env, bob, start), worker, "bob's worker (reused)")
    eq(agent_of(env, bob), agent, "bob's agent (alice's, reused)")
    eq(q.cmd("STAT").split()[:2], ["+OK", "3"], "bob sees his 3 messages")
    st, lines = q.cmd_multi("UIDL")
    eq(len(lines), 3, "bob's UIDL")
    for i in (1, 2, 3):
        st, body = q.cmd_multi("RETR %d" % i)
        text = "\n".join(body)
        check(BOB_BODY.decode() in text and ALICE_BODY.decode() not in text,
              "bob's message %d is his own" % i)
    check(q.cmd("RETR 4").startswith("-ERR"), "no fourth message for bob")
    # The reused worker holds nothing of alice's session now.
    mem = memory(worker)
    check(ALICE_PW.encode() not in mem,
          "the reused worker still holds alice's password")
    check(ALICE_BODY not in mem,
          "the reused worker still holds alice's mail")
    eq(q.cmd("QUIT")[:3], "+OK", "bob's QUIT")
    q.close()
    # And alice again: her own two, through the same agent.
    wait_for(lambda: S.proc_cmdline(agent) == "satcheld: agent (idle)", 5,
             what="the agent to go idle again")
    env.wait_idle(1, 5)
    r = one_worker_session(env, alice, ALICE_PW)
    eq(r.cmd("STAT").split()[:2], ["+OK", "2"], "alice sees her 2 again")
    eq(agent_of(env, alice), agent, "alice's agent (still the same)")
    r.cmd("QUIT")
    r.close()


def test_kill_reused_agent_mid_session_loses_nothing(env):
    alice, bob = reuse_env(env)
    before = {u: env.contents(u) for u in (alice, bob)}
    p = one_worker_session(env, alice, ALICE_PW)
    agent = agent_of(env, alice)
    p.cmd("QUIT")
    p.close()
    wait_for(lambda: S.proc_cmdline(agent) == "satcheld: agent (idle)", 5,
             what="alice's agent to go idle")
    env.wait_idle(1, 5)
    q = one_worker_session(env, bob, BOB_PW)
    eq(agent_of(env, bob), agent, "bob's session on the reused agent")
    eq(q.cmd("DELE 1")[:3], "+OK", "DELE 1")
    eq(q.cmd("DELE 2")[:3], "+OK", "DELE 2")
    os.kill(agent, signal.SIGKILL)
    r = q.cmd("QUIT")
    check(not r.startswith("+OK Logging out"),
          "QUIT after the agent died answered %r" % r)
    q.close()
    # Nothing deleted, the lock released, a new agent for the next login.
    q = one_worker_session(env, bob, BOB_PW)
    eq(q.cmd("STAT").split()[:2], ["+OK", "3"], "bob's 3 messages kept")
    q.cmd("QUIT")
    q.close()
    for u in (alice, bob):
        eq(env.contents(u), before[u], "%s's mailbox after the kill" % u)


def test_slow_module_and_silent_sasl_block_nobody(env):
    """Two SCRAM exchanges wait on silent clients, two PAM logins hang in
    pam_exec for 20 s: passwd-file users keep logging in at once."""
    if not os.path.exists(os.path.join(env.module_dir, "auth_pam.so")):
        raise S.Skip("auth_pam.so not built")
    pam_exec = None
    for d in ("/usr/lib/x86_64-linux-gnu/security", "/lib/x86_64-linux-gnu/"
              "security", "/usr/lib/aarch64-linux-gnu/security"):
        if os.path.exists(os.path.join(d, "pam_exec.so")):
            pam_exec = d
    if pam_exec is None:
        raise S.Skip("pam_exec.so not found (libpam-modules)")
    service = "satchel-slow-" + secrets.token_hex(3)
    svcfile = os.path.join("/etc/pam.d", service)
    with open(svcfile, "w") as f:
        f.write("auth required %s/pam_exec.so quiet /bin/sleep 20\n" %
                pam_exec)
        f.write("account required %s/pam_permit.so\n" % pam_exec)
    alice = env.add_user("alice", password=ALICE_PW, plain=True,
                         messages=[message(ALICE_BODY, 1)])
    bob = env.add_user("bob", password=BOB_PW, plain=True,
                       messages=[message(BOB_BODY, 1)])
    orig = S.Env.config_text

    def config_text(**o):
        return orig(env, **o) + "\n[pam]\nservice = %s\n" % service

    env.config_text = config_text
    held = []
    try:
        env.start(auth="file pam", sasl="PLAIN LOGIN SCRAM-SHA-256",
                  workers_min_spare=8, max_connections_per_ip=0,
                  timeout_login=120, timeout_preauth=120)
        # Two silent SCRAM clients: client-first, then nothing.
        for n in ("alice", "bob"):
            s = socket.create_connection(("127.0.0.1", env.port), 5,
                                         source_address=("127.0.0.2", 0))
            s.recv(100)
            import base64
            cf = base64.b64encode(("n,,n=%s@%s,r=%s" % (
                n, S.DOMAIN, secrets.token_hex(12))).encode()).decode()
            s.sendall(("AUTH SCRAM-SHA-256 %s\r\n" % cf).encode())
            check(s.recv(1000).startswith(b"+ "), "SCRAM server-first")
            held.append(s)
        # Two PAM logins that hang for 20 s (unknown to the file).
        for n in ("slow1", "slow2"):
            s = socket.create_connection(("127.0.0.1", env.port), 5,
                                         source_address=("127.0.0.2", 0))
            s.recv(100)
            s.sendall(b"USER %s\r\nPASS x\r\n" % n.encode())
            held.append(s)
        time.sleep(0.5)
        check(len(env.group_procs("satcheld: auth module pam")) >= 2,
              "the PAM module workers are running")
        worst = 0
        for i in range(10):
            user, pw = (alice, ALICE_PW) if i % 2 == 0 else (bob, BOB_PW)
            t0 = time.monotonic()
            p = env.session(user, pw)
            worst = max(worst, time.monotonic() - t0)
            eq(p.cmd("STAT")[:3], "+OK", "STAT of %s" % user)
            p.cmd("QUIT")
            p.close()
        check(worst < 2.0, "a login took %.2f s while PAM hung" % worst)
    finally:
        for s in held:
            s.close()
        os.unlink(svcfile)
