"""The privileges of every role, read from /proc/PID/status of the running
daemon: uid, gids, supplementary groups, CapEff, CapBnd, NoNewPrivs,
Seccomp, and the root directory.  doc/DESIGN's privilege table says the
same; change both together."""
import os
import pwd
import signal
import socket
import subprocess
import time

from satchel import (MAIL_USER, WORKER_USER, Skip, alive, check, eq,
                     free_port, pids_in_group, simple_message, wait_for)

ZERO = "0000000000000000"


def status(pid):
    """The fields of /proc/PID/status we check, as strings."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    out["root"] = os.readlink("/proc/%d/root" % pid)
    return out


def ids(v):
    return [int(x) for x in v.split()]


def one(env, prefix):
    pids = wait_for(lambda: env.group_procs(prefix), 5,
                    what="a process titled %r" % prefix)
    return pids[0]


def assert_root_role(st, what, bounding):
    eq(ids(st["Uid"]), [0, 0, 0, 0], "%s: Uid" % what)
    eq(ids(st["Gid"]), [0, 0, 0, 0], "%s: Gid" % what)
    check(st["CapEff"] != ZERO, "%s: CapEff is %s, want root's caps"
          % (what, st["CapEff"]))
    if bounding:
        check(st["CapBnd"] != ZERO, "%s: CapBnd empty" % what)
    else:
        eq(st["CapBnd"], ZERO, "%s: CapBnd" % what)
    eq(st["NoNewPrivs"], "0", "%s: NoNewPrivs" % what)
    eq(st["Seccomp"], "0", "%s: Seccomp" % what)
    eq(st["root"], "/", "%s: root" % what)


def assert_worker(env, st, what, sandbox=True):
    w = pwd.getpwnam(WORKER_USER)
    eq(ids(st["Uid"]), [w.pw_uid] * 4, "%s: Uid" % what)
    eq(ids(st["Gid"]), [w.pw_gid] * 4, "%s: Gid" % what)
    eq(ids(st["Groups"]), [w.pw_gid], "%s: Groups" % what)
    eq(st["CapEff"], ZERO, "%s: CapEff" % what)
    eq(st["CapPrm"], ZERO, "%s: CapPrm" % what)
    eq(st["CapBnd"], ZERO, "%s: CapBnd" % what)
    eq(st.get("CapAmb", ZERO), ZERO, "%s: CapAmb" % what)
    eq(st["NoNewPrivs"], "1", "%s: NoNewPrivs" % what)
    eq(st["Seccomp"], "2" if sandbox else "0", "%s: Seccomp" % what)
    eq(st["root"], env.empty, "%s: root (chroot)" % what)


def assert_agent(env, st, what, sandbox=True):
    m = pwd.getpwnam(MAIL_USER)
    eq(ids(st["Uid"]), [m.pw_uid] * 4, "%s: Uid" % what)
    eq(ids(st["Gid"]), [m.pw_gid] * 4, "%s: Gid" % what)
    eq(ids(st["Groups"]), [m.pw_gid], "%s: Groups" % what)
    eq(st["CapEff"], ZERO, "%s: CapEff" % what)
    eq(st["CapPrm"], ZERO, "%s: CapPrm" % what)
    eq(st["CapBnd"], ZERO, "%s: CapBnd" % what)
    eq(st["NoNewPrivs"], "1", "%s: NoNewPrivs" % what)
    eq(st["Seccomp"], "2" if sandbox else "0", "%s: Seccomp" % what)
    eq(st["root"], "/", "%s: root" % what)


def test_privileges_per_role(env):
    user = env.add_user("alice", messages=[simple_message(1)])
    env.start()
    master = env.master_pid()
    assert_root_role(status(master), "master", bounding=True)
    assert_root_role(status(one(env, "satcheld: auth")), "auth process",
                     bounding=False)
    assert_root_role(status(one(env, "satcheld: agent (spare)")),
                     "spare agent", bounding=False)
    assert_root_role(status(one(env, "satcheld: agent spawner")),
                     "agent spawner", bounding=False)
    modules = env.group_procs("satcheld: auth module file")
    check(modules, "module workers are running")
    for pid in modules:
        assert_root_role(status(pid), "module worker", bounding=False)
    env.wait_idle(2, 5)
    idle = env.idle_workers()
    assert_worker(env, status(idle[0]), "idle worker")

    p = env.session(user)
    try:
        eq(p.cmd("STAT")[:3], "+OK", "STAT")
        worker = one(env, "satcheld: worker " + user)
        assert_worker(env, status(worker), "logged-in worker")
        agent = one(env, "satcheld: agent " + user)
        assert_agent(env, status(agent), "agent")
        # The sandboxed pair still serves the session.
        eq(p.cmd("RETR 1")[:3], "+OK", "RETR 1")
        p.raw_multiline()
        eq(p.cmd("DELE 1")[:3], "+OK", "DELE 1")
        eq(p.cmd("QUIT")[:3], "+OK", "QUIT")
    finally:
        p.close()
    check("forbidden system call" not in env.log(),
          "a sandbox kill in the log")
    check("signal 31" not in env.log(), "a SIGSYS in the log")


def test_sandbox_no_keeps_the_other_limits(env):
    """sandbox = no: no seccomp filter, everything else the same."""
    user = env.add_user("alice", messages=[simple_message(1)])
    env.start(sandbox="no")
    env.wait_idle(2, 5)
    idle = env.idle_workers()
    assert_worker(env, status(idle[0]), "idle worker", sandbox=False)
    p = env.session(user)
    try:
        eq(p.cmd("STAT")[:3], "+OK", "STAT")
        assert_worker(env, status(one(env, "satcheld: worker " + user)),
                      "logged-in worker", sandbox=False)
        assert_agent(env, status(one(env, "satcheld: agent " + user)),
                     "agent", sandbox=False)
    finally:
        p.close()


def test_sandbox_bad_value_refused(env):
    env.write_config(sandbox="maybe")
    r = subprocess.run([env.satcheld, "-t", "-c", env.conf_path],
                       capture_output=True, timeout=30)
    check(r.returncode != 0, "satcheld -t accepted sandbox = maybe")
    check(b"key 'sandbox': want yes or no" in r.stderr + r.stdout,
          "no clear error for sandbox = maybe: %r" % (r.stderr[-300:],))



def test_daemon_mode_syslog(env):
    """Without -F: every role logs to syslog, the sandboxed worker and
    agent serve a session.  Regression: the agent moved its worker
    socket onto descriptor 3, syslog's, and log_init() then closed it:
    every login in daemon mode got -ERR [SYS/TEMP] and the agent's hello
    went to syslog."""
    if os.path.exists("/dev/log"):
        raise Skip("/dev/log exists (a real syslog daemon): not replacing "
                   "it")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    srv.bind("/dev/log")
    srv.setblocking(False)
    master = None
    try:
        user = env.add_user("alice", messages=[simple_message(1)])
        env.port = free_port()
        env.write_config()
        r = subprocess.run([env.satcheld, "-c", env.conf_path],
                           capture_output=True, timeout=30)
        eq(r.returncode, 0, "satcheld (daemon mode) exit status")
        master = wait_for(env.master_pid, 10, what="the pidfile")
        env.pid = master

        def listening():
            try:
                socket.create_connection(("127.0.0.1", env.port), 1).close()
                return True
            except OSError:
                return False
        wait_for(listening, 10, what="the listener")
        p = env.session(user)
        try:
            eq(p.cmd("STAT")[:5], "+OK 1", "STAT")
            eq(p.cmd("RETR 1")[:3], "+OK", "RETR 1")
            p.raw_multiline()
            eq(p.cmd("QUIT")[:3], "+OK", "QUIT")
        finally:
            p.close()
        lines = []

        def logged_out():
            while True:
                try:
                    lines.append(srv.recv(8192).decode("latin-1"))
                except BlockingIOError:
                    break
            return any("event=logout" in x for x in lines)
        wait_for(logged_out, 5, what="event=logout in syslog")
        text = "\n".join(lines)
        check("worker: " in text and "event=auth" in text,
              "no worker lines in syslog: %r" % text[-500:])
        check("forbidden system call" not in text and "signal 31" not in
              text, "a sandbox kill in syslog: %r" % text[-500:])
    finally:
        srv.close()
        os.unlink("/dev/log")
        if master is not None:
            try:
                os.kill(master, signal.SIGTERM)
            except ProcessLookupError:
                pass
            wait_for(lambda: not alive(master), 15, what="master to exit")
            for _ in range(50):
                if not pids_in_group(master):
                    break
                try:
                    os.killpg(master, signal.SIGKILL)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
