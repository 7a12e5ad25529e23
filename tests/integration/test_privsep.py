"""Privilege separation, attacked: memory scans of the roles that parse
client bytes or touch mail, and the auth pool driven through its socket
as a compromised worker would drive it.

Needs root: reads /proc/PID/mem and runs the fake worker as the worker
user.  Everything on loopback.
"""
import os
import re
import socket
import struct
import subprocess
import time

import satchel
from satchel import check, eq, wait_for

# Message types of daemon/lib/msg.h.
AUTH_CHALLENGE_REQ, AUTH_CHALLENGE, AUTH_REQUEST = 20, 21, 22
AUTH_CONTINUE, AUTH_SCRAM_FINAL, AUTH_RESULT = 23, 24, 25
MECH_PASS, MECH_APOP, MECH_CRAM = 1, 2, 3
AUTH_OK, AUTH_FAIL = 0, 1

CAROL_PW = "carol-canary-Xq7"
ALICE_PW = "alice-canary-Zr4"
SCRAM_PW = "dave-canary-Mm2"


# ---- reading a process's memory ------------------------------------

def readable_regions(pid):
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split()
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            if "r" in parts[1] and (len(parts) < 6 or
                                    parts[5] not in ("[vvar]",
                                                     "[vsyscall]")):
                yield lo, hi


def memory(pid):
    out = []
    with open("/proc/%d/mem" % pid, "rb", 0) as f:
        for lo, hi in readable_regions(pid):
            try:
                f.seek(lo)
                out.append(f.read(hi - lo))
            except (OSError, ValueError, OverflowError):
                pass
    return b"".join(out)


def role_pids(env, title):
    """pids of the daemon's process group whose title starts so."""
    return env.group_procs(title)


# ---- the pool's wire format -----------------------------------------

def pstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("=I", len(b)) + b


def frame(mtype, payload):
    return struct.pack("=II", mtype, len(payload)) + payload


def auth_request(mech, user, secret, session="00112233deadbeef", tls=0,
                 client="", local="", master=""):
    # client, local: a haproxy listener's PROXY header addresses;
    # master: a master user login's master (issue 14), "" for none
    return frame(AUTH_REQUEST, struct.pack("=II", mech, tls) + pstr(user) +
                 pstr(secret) + pstr(session) + pstr(client) + pstr(local) +
                 pstr(master))


def pool_address(env):
    """The abstract name of the master's auth socket."""
    pat = "@satchel-auth-%d-" % env.master_pid()
    with open("/proc/net/unix") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 8 and parts[7].startswith(pat):
                return "\0" + parts[7][1:]
    raise satchel.Failure("no auth socket in /proc/net/unix")


def as_worker(fn):
    """Run fn() in a child process as the worker user; return what it
    printed (one repr per line) and its exit status."""
    pw = satchel.pwd.getpwnam(satchel.WORKER_USER)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            os.setgroups([])
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)
            out = fn()
            os.write(w, repr(out).encode())
            os._exit(0)
        except BaseException as e:  # noqa: BLE001 - report anything
            os.write(w, ("ERROR %r" % e).encode())
            os._exit(1)
    os.close(w)
    data = b""
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        data += chunk
    os.close(r)
    _, status = os.waitpid(pid, 0)
    return data.decode(), status


def recv_msg(sock, timeout):
    """One SEQPACKET message: (type, payload, fds)."""
    sock.settimeout(timeout)
    msg, anc, _, _ = sock.recvmsg(65536, socket.CMSG_SPACE(16))
    if not msg:
        return None, b"", []
    fds = []
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds += list(struct.unpack("=%di" % (len(data) // 4), data))
    mtype, length = struct.unpack("=II", msg[:8])
    return mtype, msg[8:8 + length], fds


def connect_pool(addr):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(addr)
    return s


class ClientSockets:
    """What a compromised worker holds: accepted TCP connections from
    real clients.  It listens itself (a worker without the sandbox could)
    and accepts connections made from source."""

    def __init__(self):
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.keep = []

    def accepted(self, source="127.0.0.1"):
        c = socket.create_connection(self.lsock.getsockname(),
                                     source_address=(source, 0), timeout=5)
        a, _ = self.lsock.accept()
        self.keep += [c, a]
        return a


def client_socket(port, source="127.0.0.1", _pool=[]):
    """An accepted connection whose peer is a client at source."""
    if not _pool:
        _pool.append(ClientSockets())
    return _pool[0].accepted(source)


def send_with_fd(sock, data, fd):
    sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                           struct.pack("=i", fd))])


def users_env(env):
    env.add_user("alice", password=ALICE_PW, plain=True,
                 messages=[satchel.simple_message(1)])
    env.add_user("carol", password=CAROL_PW, plain=True,
                 messages=[satchel.simple_message(2)])
    env.add_user("erin", messages=[satchel.simple_message(3)])


# ---- memory scans ---------------------------------------------------

def test_memory_of_workers_and_agents_holds_no_other_secret(env):
    users_env(env)
    scram = subprocess.run(
        [os.path.join(env.builddir, "satchel-passwd"), "-s",
         "SCRAM-SHA-256"], input=SCRAM_PW + "\n", capture_output=True,
        text=True, check=True).stdout.strip()
    user = env.add_user("dave", messages=[satchel.simple_message(4)])
    env.users[user] = (scram, env.users[user][1])
    erin_hash = env.users["erin@" + satchel.DOMAIN][0]
    env.start(workers_min_spare=3)
    alice = "alice@" + satchel.DOMAIN
    p = satchel.Pop(env.port)
    eq(p.cmd("USER " + alice), "+OK")
    check(p.cmd("PASS " + ALICE_PW).startswith("+OK Logged in"),
          "alice logs in")
    eq(p.cmd("STAT")[:3], "+OK")
    # Other users' secrets in every form the passwd-file holds them.
    secrets = {
        "carol's password": CAROL_PW.encode(),
        "erin's hash": erin_hash.split("}", 1)[1].encode(),
        "dave's SCRAM keys": scram.split(",", 2)[2][:24].encode(),
        "the passwd-file line": b"carol@" + satchel.DOMAIN.encode() + b":",
    }
    wait_for(lambda: role_pids(env, "satcheld: worker " + alice), 5,
             what="alice's worker")
    roles = {
        "logged-in worker": role_pids(env, "satcheld: worker " + alice),
        "idle worker": role_pids(env, "satcheld: worker (idle)")[:1],
        "agent": role_pids(env, "satcheld: agent " + alice),
        "spare agent": role_pids(env, "satcheld: agent (spare)")[:1],
        "agent spawner": role_pids(env, "satcheld: agent spawner"),
        "auth process": role_pids(env, "satcheld: auth")[:1],
        "master": [env.master_pid()],
    }
    for role in ("logged-in worker", "idle worker", "agent",
                 "agent spawner", "master"):
        check(roles[role], "a %s is running" % role)
    for role, pids in roles.items():
        if role == "auth process":
            pids = [p for p in pids
                    if satchel.proc_cmdline(p) == "satcheld: auth"]
        for pid in pids:
            mem = memory(pid)
            check(len(mem) > 100000, "read %s %d's memory" % (role, pid))
            for what, needle in secrets.items():
                check(needle not in mem, "%s (pid %d) holds %s" %
                      (role, pid, what))
            if role in ("logged-in worker", "agent", "idle worker"):
                check(ALICE_PW.encode() not in mem,
                      "%s (pid %d) still holds alice's password after "
                      "sending it" % (role, pid))
    # The scan can find what is there: the module workers hold the table.
    modules = role_pids(env, "satcheld: auth module file")
    check(modules, "auth module workers are running")
    check(any(CAROL_PW.encode() in memory(pid) for pid in modules),
          "the scan finds carol's password in an auth module worker "
          "(where it belongs)")
    p.cmd("QUIT")
    p.close()


# ---- the pool, driven as a compromised worker -----------------------

def test_pool_enforces_the_failure_delay(env):
    users_env(env)
    env.start(login_fail_delay_ms=1000, login_fail_delay_max_ms=1000)
    addr = pool_address(env)
    port = env.port
    carol = "carol@" + satchel.DOMAIN

    def attack():
        # 20 wrong passwords at once, each on its own connection, each
        # with a real client socket from one address.
        conns = []
        clients = []
        for i in range(20):
            c = client_socket(port, "127.0.0.2")
            clients.append(c)
            s = connect_pool(addr)
            send_with_fd(s, auth_request(MECH_PASS, carol, "guess%d" % i),
                         c.fileno())
            conns.append(s)
        import selectors
        sel = selectors.DefaultSelector()
        for s in conns:
            sel.register(s, selectors.EVENT_READ)
        t0 = time.monotonic()
        answered = 0
        while time.monotonic() - t0 < 5 and conns:
            for key, _ in sel.select(5 - (time.monotonic() - t0)):
                s = key.fileobj
                sel.unregister(s)
                conns.remove(s)
                try:
                    mtype, payload, fds = recv_msg(s, 1)
                except OSError:
                    continue
                if mtype == AUTH_RESULT:
                    answered += 1
        return answered

    out, status = as_worker(attack)
    eq(status, 0, "the fake worker ran: " + out)
    answered = int(out)
    check(answered <= 5, "the pool answered %d of 20 guesses within 5 s "
          "(1 s, doubling, one attempt at a time per user, allows 2)" %
          answered)
    check(answered >= 2, "the pool answered only %d guesses" % answered)
    log = env.log()
    check(re.search(r"event=auth-check user=carol@\S+ addr=127\.0\.0\.2 "
                    r"mech=pass result=fail", log),
          "the pool logs each failure with the real address")


def test_pool_challenges_are_single_use(env):
    users_env(env)
    env.start(apop="yes")
    addr = pool_address(env)
    port = env.port
    alice = "alice@" + satchel.DOMAIN

    def attack():
        import hashlib
        out = {}
        c = client_socket(port)
        s = connect_pool(addr)
        s.send(frame(AUTH_CHALLENGE_REQ, struct.pack("=I", MECH_APOP)))
        mtype, payload, _ = recv_msg(s, 5)
        (n,) = struct.unpack("=I", payload[:4])
        chal = payload[4:4 + n].decode()
        digest = hashlib.md5((chal + ALICE_PW).encode()).hexdigest()
        send_with_fd(s, auth_request(MECH_APOP, alice, digest), c.fileno())
        mtype, payload, fds = recv_msg(s, 10)
        out["first"] = struct.unpack("=I", payload[:4])[0]
        for fd in fds:
            os.close(fd)
        # The same answer on the same connection: the challenge is gone.
        try:
            send_with_fd(s, auth_request(MECH_APOP, alice, digest),
                         c.fileno())
            mtype, payload, fds = recv_msg(s, 5)
            out["replay_same"] = mtype
        except OSError:
            out["replay_same"] = "closed"
        # On a new connection with no challenge: refused.
        s2 = connect_pool(addr)
        send_with_fd(s2, auth_request(MECH_APOP, alice, digest),
                     c.fileno())
        try:
            mtype, payload, fds = recv_msg(s2, 5)
            out["replay_new"] = mtype
        except OSError:
            out["replay_new"] = "closed"
        # A new challenge, the old answer: wrong.
        s3 = connect_pool(addr)
        s3.send(frame(AUTH_CHALLENGE_REQ, struct.pack("=I", MECH_APOP)))
        recv_msg(s3, 5)
        send_with_fd(s3, auth_request(MECH_APOP, alice, digest),
                     c.fileno())
        mtype, payload, fds = recv_msg(s3, 10)
        out["replay_fresh"] = struct.unpack("=I", payload[:4])[0]
        return out

    out, status = as_worker(attack)
    eq(status, 0, "the fake worker ran: " + out)
    res = eval(out)  # noqa: S307 - our own child's repr of a dict
    eq(res["first"], AUTH_OK, "the right APOP answer logs in")
    check(res["replay_same"] in (None, "closed"),
          "a second answer to one challenge ends the connection")
    check(res["replay_new"] in (None, "closed"),
          "an APOP answer without a challenge is refused")
    eq(res["replay_fresh"], AUTH_FAIL,
       "an old answer to a new challenge fails")
    check("request refused" in env.log(), "the pool logs the refusals")


def test_pool_reads_the_address_from_the_socket(env):
    users_env(env)
    env.start()
    addr = pool_address(env)
    port = env.port
    carol = "carol@" + satchel.DOMAIN

    def attack():
        out = {}
        # No client socket at all.
        s = connect_pool(addr)
        s.send(auth_request(MECH_PASS, carol, "x"))
        try:
            mtype, _, _ = recv_msg(s, 5)
            out["nofd"] = mtype
        except OSError:
            out["nofd"] = "closed"
        # A socket that is not a TCP client connection.
        a, b = socket.socketpair()
        s = connect_pool(addr)
        send_with_fd(s, auth_request(MECH_PASS, carol, "x"), a.fileno())
        try:
            mtype, _, _ = recv_msg(s, 5)
            out["unix"] = mtype
        except OSError:
            out["unix"] = "closed"
        # A message the pool never takes from a worker.
        s = connect_pool(addr)
        s.send(frame(AUTH_RESULT, struct.pack("=II", 0, 0) + pstr("x") +
                     pstr("")))
        try:
            mtype, _, _ = recv_msg(s, 5)
            out["bogus"] = mtype
        except OSError:
            out["bogus"] = "closed"
        # A good request from 127.0.0.3: logged with that address.
        c = client_socket(port, "127.0.0.3")
        s = connect_pool(addr)
        send_with_fd(s, auth_request(MECH_PASS, carol, "wrong"), c.fileno())
        mtype, payload, _ = recv_msg(s, 10)
        out["real"] = struct.unpack("=I", payload[:4])[0]
        return out

    out, status = as_worker(attack)
    eq(status, 0, "the fake worker ran: " + out)
    res = eval(out)  # noqa: S307
    for k in ("nofd", "unix", "bogus"):
        check(res[k] in (None, "closed"), "%s: the pool refused (%r)" %
              (k, res[k]))
    eq(res["real"], AUTH_FAIL, "a wrong password fails")
    log = env.log()
    check(re.search(r"user=carol@\S+ addr=127\.0\.0\.3 ", log),
          "logged with the address of the socket")
    check(log.count("request refused") >= 3, "each refusal is logged")


def test_failures_take_the_same_time(env):
    """Wrong password ({PLAIN}, crypt, SCRAM-stored) and unknown user:
    medians of 50 tries each within 5 ms."""
    users_env(env)
    scram = subprocess.run(
        [os.path.join(env.builddir, "satchel-passwd"), "-s",
         "SCRAM-SHA-256"], input=SCRAM_PW + "\n", capture_output=True,
        text=True, check=True).stdout.strip()
    dave = env.add_user("dave", messages=[])
    env.users[dave] = (scram, env.users[dave][1])
    env.start(login_fail_delay_ms=60, login_fail_delay_max_ms=60,
              login_fail_max=100)
    kinds = {
        "plain": "carol@" + satchel.DOMAIN,
        "crypt": "erin@" + satchel.DOMAIN,
        "scram-stored": dave,
        "unknown": "nobody@" + satchel.DOMAIN,
    }
    times = {k: [] for k in kinds}
    for i in range(50):
        p = satchel.Pop(env.port)
        for kind, user in kinds.items():
            eq(p.cmd("USER " + user), "+OK")
            t0 = time.monotonic()
            r = p.cmd("PASS wrong-%d" % i)
            times[kind].append(time.monotonic() - t0)
            check(r.startswith("-ERR [AUTH]"), "%s fails" % kind)
        p.close()
    med = {k: sorted(v)[len(v) // 2] * 1000 for k, v in times.items()}
    spread = max(med.values()) - min(med.values())
    check(spread < 5, "median answer times differ by %.1f ms: %s" %
          (spread, ", ".join("%s %.1f" % kv for kv in med.items())))
    check(min(med.values()) >= 55, "the delay was applied: %r" % med)


def test_master_closes_inherited_descriptors(env):
    """A descriptor left open by whatever started satcheld reaches no
    process of it: not the master, not a worker, not an agent."""
    users_env(env)
    r, w = os.pipe()
    os.set_inheritable(w, True)
    marker = os.readlink("/proc/self/fd/%d" % w)
    orig_popen = subprocess.Popen

    def popen(*a, **kw):
        kw["close_fds"] = False
        return orig_popen(*a, **kw)

    subprocess.Popen = popen
    try:
        env.start()
    finally:
        subprocess.Popen = orig_popen
        os.close(w)
    p = satchel.Pop(env.port)
    eq(p.cmd("USER alice@" + satchel.DOMAIN), "+OK")
    check(p.cmd("PASS " + ALICE_PW).startswith("+OK"), "alice logs in")
    pids = [env.master_pid()] + env.group_procs("satcheld:")
    check(len(pids) > 5, "processes to look at: %r" % pids)
    for pid in pids:
        try:
            fds = os.listdir("/proc/%d/fd" % pid)
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            check(target != marker, "%s (pid %d) holds the inherited "
                  "pipe as fd %s" % (satchel.proc_cmdline(pid), pid, fd))
    p.cmd("QUIT")
    p.close()
    os.close(r)


# ---- the pool is sized from the master's own table (issue 11) -------

# daemon/lib/scoreboard.h: struct scoreboard { uint32_t nslots; (pad)
# struct sb_slot slots[]; }, a slot is pid, generation, state, agent,
# since, sessions, user[64], peer[64], session[20], bytes, takeover,
# kick: 200 octets from offset 8 (scoreboard.c asserts the size).
SB_HEADER, SB_SLOT, SB_STATE = 8, 200, 8
SB_IDLE, SB_PREAUTH = 2, 3


def scoreboard_at(pid, nslots):
    """The address of the scoreboard in pid's memory: the shared mapping
    whose first word is nslots and whose slots hold pid itself."""
    with open("/proc/%d/maps" % pid) as f:
        maps = [line.split() for line in f]
    with open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for parts in maps:
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            if parts[1] != "rw-s" or hi - lo < SB_HEADER + nslots * SB_SLOT:
                continue
            mem.seek(lo)
            data = mem.read(SB_HEADER + nslots * SB_SLOT)
            if struct.unpack_from("=I", data)[0] != nslots:
                continue
            pids = [struct.unpack_from("=i", data, SB_HEADER + i * SB_SLOT)[0]
                    for i in range(nslots)]
            if pid in pids:
                return lo
    return None


class ScoreboardLiar:
    """A compromised worker: through one worker's own mapping of the
    scoreboard, it writes state into every slot (and nslots) over and
    over, faster than the honest workers write their own."""

    def __init__(self, env, nslots):
        self.env, self.nslots = env, nslots
        self.pid = self.addr = None

    def _target(self):
        if self.pid is not None and satchel.alive(self.pid):
            return True
        for pid in self.env.group_procs("satcheld: worker"):
            addr = scoreboard_at(pid, self.nslots)
            if addr is not None:
                self.pid, self.addr = pid, addr
                return True
        return False

    def lie(self, state, header=None):
        """state into every slot that has a pid; the others say free, so
        a master that trusts them finds room to fork."""
        if not self._target():
            return False
        try:
            with open("/proc/%d/mem" % self.pid, "r+b", 0) as mem:
                mem.seek(self.addr)
                data = mem.read(SB_HEADER + self.nslots * SB_SLOT)
                for i in range(self.nslots):
                    at = SB_HEADER + i * SB_SLOT
                    used = struct.unpack_from("=i", data, at)[0] != 0
                    mem.seek(self.addr + at + SB_STATE)
                    mem.write(struct.pack("=I", state if used else 0))
                if header is not None:
                    mem.seek(self.addr)
                    mem.write(struct.pack("=I", header))
        except OSError:
            self.pid = None
            return False
        return True

    def during(self, seconds, state, header=None, every=None):
        """Lie for seconds; call every() between writes, keep its max."""
        end, worst = time.monotonic() + seconds, 0
        while time.monotonic() < end:
            self.lie(state, header)
            if every is not None:
                worst = max(worst, every())
            time.sleep(0.01)
        return worst


def test_master_sizes_the_pool_from_its_own_table(env):
    """A worker that writes lies into the scoreboard's shared memory (every
    slot busy, then every slot idle with a zero slot count) makes the
    master neither fork up to workers_max nor starve the pool: the idle
    workers stay within workers_max_spare, and new logins are served
    while the lie goes on."""
    users = [env.add_user("u%d" % i, messages=[satchel.simple_message(i)])
             for i in range(4)]
    nslots = 24
    env.start(workers_min_spare=2, workers_max_spare=4, workers_max=nslots)
    liar = ScoreboardLiar(env, nslots)
    # A new worker writes its pid into its slot just after it starts.
    satchel.wait_for(lambda: liar.lie(SB_PREAUTH), 5,
                     what="the scoreboard in a worker's memory")
    mark = len(env.log())

    def workers():
        return len(env.group_procs("satcheld: worker"))

    # 1. Every slot says busy: an old master counted no idle worker and
    # forked, doubling, up to workers_max.
    worst = liar.during(4, SB_PREAUTH, every=workers)
    check(worst <= 4, "workers while every slot said busy: at most "
          "workers_max_spare (4), saw %d" % worst)
    check(satchel.alive(env.pid), "the master lives")

    # 2. Every slot says idle, and the header says there are no slots: an
    # old master counted busy workers as idle and could not find a free
    # slot, so logins beyond the idle workers waited in the backlog.
    held = []
    try:
        for user in users:
            liar.during(0.3, SB_IDLE, header=0)
            t0 = time.monotonic()
            held.append(env.session(user))
            check(time.monotonic() - t0 < 5, "%s logged in within 5 s "
                  "while the scoreboard lied" % user)
            worst = liar.during(0.5, SB_IDLE, header=0, every=workers)
            check(worst <= len(held) + 4, "workers with %d sessions: at "
                  "most %d, saw %d" % (len(held), len(held) + 4, worst))
        for p in held:
            eq(p.cmd("STAT").split()[:2], ["+OK", "1"], "STAT")
    finally:
        for p in held:
            try:
                p.cmd("QUIT")
            except OSError:
                pass
            p.close()
    liar.during(1, SB_IDLE, header=0)
    satchel.wait_for(lambda: 2 <= len(env.idle_workers()) <= 4, 10,
                     what="idle workers back within 2..4 (%r)" %
                     env.children())
    check(satchel.alive(env.pid), "the master lives")
    check("workers_max (%d) reached" % nslots not in env.log()[mark:],
          "the master never reached workers_max")
