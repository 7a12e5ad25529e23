"""Crashes: a worker or a mailbox agent killed with SIGKILL in the middle
of a session.  The mailbox must be unlocked afterwards, nothing lost,
and the pool must heal."""
import os
import re
import signal
import socket

from satchel import (alive, check, eq, proc_cmdline, relogin,
                     simple_message, wait_for)

MSGS = [simple_message(i) for i in range(1, 4)]




def _session_worker_pid(env, user):
    m = env.wait_log(r"satcheld\[(\d+)\] worker: session=\S+ event=auth "
                     r"user=%s method=pass result=ok" % re.escape(user))
    return int(m.group(1))


def test_kill_worker_mid_session(env):
    user = env.add_user("alice", messages=MSGS)
    env.start(workers_min_spare=3)
    before = env.contents(user)
    p = env.session(user)
    eq(p.cmd("DELE 1"), "+OK Message 1 deleted", "DELE 1")
    eq(p.cmd("RETR 2")[:3], "+OK", "RETR 2")
    p.raw_multiline()
    wpid = _session_worker_pid(env, user)
    check(wpid in env.children(), "worker %d is not a child of the "
          "master %d" % (wpid, env.pid))
    check(wpid not in env.idle_workers(), "session worker listed idle")
    agents = env.group_procs("satcheld: agent " + user)
    eq(len(agents), 1, "agents for %s" % user)
    os.kill(wpid, signal.SIGKILL)
    check(p.closed(5), "client connection not closed after the worker "
          "was killed")
    p.close()
    env.wait_log(r"worker %d killed by signal 9" % wpid)
    # The agent ends the session without committing and then exits or
    # waits, idle, for a later session of its uid: either way it
    # released the mailbox.
    wait_for(lambda: not alive(agents[0]) or
             proc_cmdline(agents[0]) == "satcheld: agent (idle)", 5,
             what="the agent to end the session after its worker died")
    q = relogin(env, user, "login after the crash")
    eq(q.cmd("STAT").split()[:2], ["+OK", "3"], "STAT: nothing deleted")
    eq(q.cmd("QUIT")[:3], "+OK", "QUIT")
    q.close()
    eq(env.contents(user), before, "messages after the crash")
    env.wait_idle(3, 5)
    check(wpid not in env.children(), "killed worker still there")


def test_kill_agent_mid_session(env):
    user = env.add_user("alice", messages=MSGS)
    env.start()
    before = env.contents(user)
    p = env.session(user)
    eq(p.cmd("DELE 1"), "+OK Message 1 deleted", "DELE 1")
    agents = env.group_procs("satcheld: agent " + user)
    eq(len(agents), 1, "agents for %s: %r" % (user, agents))
    os.kill(agents[0], signal.SIGKILL)
    wait_for(lambda: not alive(agents[0]), 5, what="agent to die")
    # The next request needs the agent: an error reply, then close
    # (or the connection is simply closed).
    try:
        r = p.cmd("RETR 2")
        check(r.startswith("-ERR"), "RETR after the agent died: %r" % r)
        check(p.closed(5), "connection not closed after %r" % r)
    except (EOFError, ConnectionResetError, BrokenPipeError,
            socket.timeout) as e:
        check(not isinstance(e, socket.timeout), "no answer to RETR")
    p.close()
    q = relogin(env, user, "login after the crash")
    eq(q.cmd("STAT").split()[:2], ["+OK", "3"], "STAT: nothing deleted")
    eq(q.cmd("QUIT")[:3], "+OK", "QUIT")
    q.close()
    eq(env.contents(user), before, "messages after the agent crash")
    check(alive(env.pid), "master died")


def test_kill_agent_before_quit(env):
    # The agent dies before QUIT: the reply must not claim success.
    user = env.add_user("alice", messages=MSGS)
    env.start()
    p = env.session(user)
    eq(p.cmd("DELE 1"), "+OK Message 1 deleted", "DELE 1")
    agents = env.group_procs("satcheld: agent " + user)
    eq(len(agents), 1, "agents")
    os.kill(agents[0], signal.SIGKILL)
    wait_for(lambda: not alive(agents[0]), 5, what="agent to die")
    try:
        r = p.cmd("QUIT")
        check(r.startswith("-ERR"), "QUIT after the agent died: %r" % r)
    except (EOFError, ConnectionResetError):
        pass
    p.close()
    eq(len(env.files(user)), 3, "files after a failed update")


def test_worker_crash_logged_and_replaced(env):
    env.start(workers_min_spare=3)
    idle = env.wait_idle(3, 5) and env.idle_workers()
    victim = idle[0]
    os.kill(victim, signal.SIGKILL)
    env.wait_log(r"worker %d killed by signal 9 \(state idle\); "
                 r"replacing it" % victim)
    env.wait_idle(3, 5)
    check(victim not in env.idle_workers(), "victim still listed")
    # and the pool still serves
    p = env.session("alice@test.example")
    eq(p.cmd("QUIT")[:3], "+OK", "QUIT")
    p.close()
    check(alive(env.pid), "master died")
