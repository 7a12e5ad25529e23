"""The TLS private keys live in the key process only (issue 11 item 2).

test_keymem_scan starts satcheld with an RSA certificate (tls_key) and
an EC certificate (tls_sni), logs in over TLS with each, keeps both
sessions open, and then, as root, reads /proc/PID/mem (every readable
region of /proc/PID/maps) of the master, an idle worker, both logged-in
workers, their mailbox agents and the auth processes.  None may hold a
byte sequence of either private key: the RSA primes, private exponent
and CRT values and the EC scalar, each as big-endian bytes and as
OpenSSL's little-endian limbs (whole, and 16-octet windows), nor a line
of the PEM text.  The same scan of the key process must find them, or
the scanner proves nothing.

test_keymem_key_socket drives the key process's socket as a compromised
worker would (the worker user, from outside the daemon): garbage,
oversize, a wrong key index, a request type not in the table, a
descriptor, a wrong padding, another uid.  Each is refused, closes that
connection, names the refusal in the log, and the key process lives on
and still signs correctly (checked with openssl pkeyutl).
"""
import json
import os
import pwd
import re
import socket
import struct
import subprocess
import sys

from satchel import (DEFAULT_PASSWORD, MAIL_USER, TRICKY, WORKER_USER, Pop,
                     alive, check, ensure_tool, eq, free_port, wait_for)

HOST = "pop.test.example"
OTHER = "ec.test.example"


def _run(env, argv, timeout=30, **kw):
    return subprocess.run(argv, capture_output=True, timeout=timeout,
                          cwd=env.dir, **kw)


def _cert(env, name, cn, kind):
    openssl = ensure_tool("openssl", "openssl")
    cert = os.path.join(env.dir, name + ".crt")
    key = os.path.join(env.dir, name + ".key")
    newkey = (["-newkey", "rsa:2048"] if kind == "rsa" else
              ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
    r = _run(env, [openssl, "req", "-x509"] + newkey +
             ["-nodes", "-days", "2", "-keyout", key, "-out", cert,
              "-subj", "/CN=" + cn, "-addext",
              "subjectAltName=DNS:%s" % cn])
    eq(r.returncode, 0, "openssl req %s (%r)" % (kind, r.stderr[-300:]))
    os.chmod(key, 0o600)
    pub = os.path.join(env.dir, name + ".pub")
    r = _run(env, [openssl, "pkey", "-in", key, "-pubout", "-out", pub])
    eq(r.returncode, 0, "openssl pkey -pubout")
    return cert, key, pub


def _numbers(env, key):
    """{name: int} of the private numbers of a PEM key."""
    r = _run(env, ["openssl", "pkey", "-in", key, "-text", "-noout"])
    eq(r.returncode, 0, "openssl pkey -text")
    out, cur = {}, None
    for line in r.stdout.decode().splitlines():
        if re.match(r"^[A-Za-z0-9 ]+:\s*$", line):
            cur = line.strip()[:-1]
            out[cur] = ""
        elif cur is not None and re.match(r"^\s+[0-9a-f:]+$", line):
            out[cur] += line.strip().replace(":", "")
        else:
            cur = None
    want = ("privateExponent", "prime1", "prime2", "exponent1",
            "exponent2", "coefficient") if "prime1" in out else ("priv",)
    nums = {k: int(out[k], 16) for k in want if out.get(k)}
    eq(sorted(nums), sorted(want), "private numbers parsed from %s" % key)
    return nums


def _patterns(env, key):
    """[(label, bytes)]: every form in which a key could sit in memory."""
    pats = []
    for name, x in _numbers(env, key).items():
        n = (x.bit_length() + 7) // 8
        for order in ("big", "little"):
            b = x.to_bytes(n, order)
            pats.append(("%s %s-endian" % (name, order), b))
            for off in sorted({0, n // 2 - 8, n - 16}):
                pats.append(("%s %s-endian [%d:%d]" % (name, order, off,
                                                       off + 16),
                             b[off:off + 16]))
    with open(key) as f:
        body = [l.strip() for l in f if l.strip() and "-----" not in l]
    for i, l in enumerate(body):
        if len(l) >= 32:
            pats.append(("PEM line %d" % (i + 1), l.encode()))
    return pats


CHUNK = 16 << 20
HUGE = 1 << 30      # ASan's shadow memory: reserved, never key data


def _scan(pid, pats):
    """Labels of the patterns found in the readable memory of pid, read
    region by region in overlapping chunks."""
    regions = []
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split()
            if parts[1][0] != "r":
                continue
            if len(parts) > 5 and parts[5] in ("[vvar]", "[vsyscall]",
                                               "[vvar_vclock]"):
                continue
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            if hi - lo < HUGE:
                regions.append((lo, hi))
    overlap = max(len(p) for _, p in pats)
    found, total = set(), 0
    with open("/proc/%d/mem" % pid, "rb", buffering=0) as m:
        for lo, hi in regions:
            off = lo
            while off < hi:
                n = min(CHUNK + overlap, hi - off)
                try:
                    m.seek(off)
                    c = m.read(n)
                except (OSError, OverflowError, ValueError):
                    break
                total += len(c)
                for label, p in pats:
                    if label not in found and c.find(p) >= 0:
                        found.add(label)
                off += CHUNK
    check(total > 100000, "read only %d bytes of pid %d" % (total, pid))
    return sorted(found)


def _tls(port, server_hostname):
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection(("127.0.0.1", port), 10)
    p = Pop.__new__(Pop)
    p.sock = ctx.wrap_socket(raw, server_hostname=server_hostname)
    p.buf = b""
    p.greeting = p.line()
    return p


def _start_daemon(env):
    env.port = free_port()
    env.tlsport = free_port()
    while env.tlsport == env.port:
        env.tlsport = free_port()
    env.rsa = _cert(env, "rsa", HOST, "rsa")
    env.ec = _cert(env, "ec", OTHER, "ec")
    env.start(listen="127.0.0.1:%d\nlisten = 127.0.0.1:%d tls"
              % (env.port, env.tlsport),
              tls_cert=env.rsa[0], tls_key=env.rsa[1],
              tls_sni="%s %s %s" % (OTHER, env.ec[0], env.ec[1]))
    keys = env.group_procs("satcheld: key")
    eq(len(keys), 1, "key processes (%r)" % env.children())
    return keys[0]


def _peer_cert_is(p, cert):
    import ssl
    with open(cert) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    eq(p.sock.getpeercert(binary_form=True), der, "server certificate")


def test_keymem_scan(env):
    alice = env.add_user("alice", messages=[TRICKY])
    bob = env.add_user("bob", messages=[TRICKY])
    keypid = _start_daemon(env)
    pats = _patterns(env, env.rsa[1]) + _patterns(env, env.ec[1])
    sessions = []
    try:
        for user, name, cert in ((alice, HOST, env.rsa[0]),
                                 (bob, OTHER, env.ec[0])):
            p = _tls(env.tlsport, name)
            sessions.append(p)
            _peer_cert_is(p, cert)
            r = p.login(user)
            check(r.startswith("+OK"), "TLS login %s: %r" % (user, r))
            check(p.cmd("STAT").startswith("+OK 1 "), "STAT")
        wait_for(lambda: len(env.group_procs("satcheld: agent " + bob)) == 1,
                 5, what="bob's agent")
        roles = {"master": [env.pid],
                 "idle worker": env.idle_workers()[:1],
                 "worker (RSA session)": env.group_procs(
                     "satcheld: worker " + alice),
                 "worker (EC session)": env.group_procs(
                     "satcheld: worker " + bob),
                 "agent (RSA session)": env.group_procs(
                     "satcheld: agent " + alice),
                 "agent (EC session)": env.group_procs(
                     "satcheld: agent " + bob),
                 "auth process": env.group_procs("satcheld: auth"),
                 "spare agent": env.group_procs("satcheld: agent (spare)")}
        for role, pids in roles.items():
            if role != "spare agent":
                check(pids, "no %s among %r" % (role, env.children()))
        # the key process dropped its privileges after loading the keys
        with open("/proc/%d/status" % keypid) as f:
            st = dict(l.rstrip("\n").split(":\t", 1) for l in f
                      if ":\t" in l)
        wpw = pwd.getpwnam(WORKER_USER)
        eq(st["Uid"].split(), [str(wpw.pw_uid)] * 4, "key process uids")
        eq(st["Gid"].split(), [str(wpw.pw_gid)] * 4, "key process gids")
        eq(st["Groups"].split(), [str(wpw.pw_gid)], "key process groups")
        eq(st["CapEff"], "0000000000000000", "key process CapEff")
        eq(st["NoNewPrivs"], "1", "key process NoNewPrivs")
        eq(os.readlink("/proc/%d/root" % keypid), env.empty,
           "key process root (chroot)")
        fds = {}
        for fd in os.listdir("/proc/%d/fd" % keypid):
            try:
                fds[int(fd)] = os.readlink("/proc/%d/fd/%s" % (keypid, fd))
            except OSError:
                pass
        check(all(v.startswith("socket:") for k, v in fds.items() if k > 2),
              "key process descriptors other than sockets: %r" % fds)
        check(len(fds) <= 3 + 2 + 2, "key process descriptors: %r "
              "(stdio, control, listener, two workers)" % fds)
        # the scanner can see a key: the key process holds both
        held = _scan(keypid, pats)
        for name in ("prime1", "prime2", "privateExponent", "priv"):
            check(any(h.startswith(name + " ") for h in held),
                  "the scan does not find %s in the key process (found "
                  "%r): the scanner is broken" % (name, held))
        check(any(h.startswith("priv little-endian") or
                  h.startswith("prime1 little-endian") for h in held),
              "no little-endian limbs found in the key process: %r" % held)
        scanned = 0
        for role, pids in roles.items():
            for pid in pids:
                found = _scan(pid, pats)
                eq(found, [], "key material in the %s (pid %d)"
                   % (role, pid))
                scanned += 1
        check(scanned >= 7, "scanned %d processes" % scanned)
        # and the sessions still work after being looked at
        for p in sessions:
            st = p.cmd("RETR 1")
            check(st.startswith("+OK"), "RETR: %r" % st)
            p.raw_multiline()
            check(p.cmd("QUIT").startswith("+OK"), "QUIT")
    finally:
        for p in sessions:
            p.close()


# ---- the key socket, driven as a compromised worker would ------------

PROBE = r'''
import json, socket, struct, sys, os
addr = "\0" + sys.argv[1]
digest = bytes(range(32))
def msg(t, payload, hlen=None):
    return struct.pack("=II", t, len(payload) if hlen is None else hlen) + payload
def req(t, key, pad, data):
    return msg(t, struct.pack("=III", key, pad, len(data)) + data)
def probe(raw, fd=None):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(5)
    s.connect(addr)
    try:
        if fd is None:
            s.send(raw)
        else:
            s.sendmsg([raw], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                               struct.pack("i", fd))])
        r = s.recv(65536)
    except socket.timeout:
        r = b"timeout"
    except (ConnectionResetError, BrokenPipeError):
        r = b""
    s.close()
    return r.hex()
out = {}
if sys.argv[2] == "valid":
    out["ec"] = probe(req(3, 1, 0, digest))
    di = bytes.fromhex("3031300d060960864801650304020105000420") + digest
    out["rsa"] = probe(req(1, 0, 1, di))
else:
    out["garbage"] = probe(b"xyz")
    out["short header"] = probe(msg(3, b"\0" * 10, hlen=100))
    out["oversize"] = probe(req(3, 1, 0, b"\1" * 2000))
    out["huge"] = probe(b"\3\0\0\0" + b"\0" * 40000)
    out["wrong key"] = probe(req(3, 9, 0, digest))
    out["unknown type"] = probe(req(99, 1, 0, digest))
    out["rsa decrypt"] = probe(req(2, 0, 0, b"\1" * 256))
    out["wrong kind"] = probe(req(3, 0, 0, digest))
    out["bad padding"] = probe(req(1, 0, 7, digest))
    out["rsa length"] = probe(req(1, 0, 0, digest))
    out["descriptor"] = probe(req(3, 1, 0, digest), fd=0)
print(json.dumps(out))
'''


def _key_socket(env):
    names = []
    with open("/proc/net/unix") as f:
        for line in f:
            m = re.search(r"@(satchel-key-%d-[0-9a-f]+)\s*$" % env.pid, line)
            if m and m.group(1) not in names:
                names.append(m.group(1))
    eq(len(names), 1, "key sockets of master %d" % env.pid)
    return names[0]


def _probe(env, user, name, what):
    r = subprocess.run([sys.executable, "-c", PROBE, name, what],
                       capture_output=True, timeout=60, user=user,
                       group=user)
    eq(r.returncode, 0, "probe as %s: %r" % (user, r.stderr[-500:]))
    return json.loads(r.stdout)


def _verify(env, pub, data, sig_hex, rsa):
    d = os.path.join(env.dir, "data.bin")
    s = os.path.join(env.dir, "sig.bin")
    with open(d, "wb") as f:
        f.write(data)
    with open(s, "wb") as f:
        f.write(bytes.fromhex(sig_hex))
    argv = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pub,
            "-in", d, "-sigfile", s]
    if rsa:
        argv += ["-pkeyopt", "rsa_padding_mode:pkcs1"]
    r = _run(env, argv)
    check(r.returncode == 0 and b"Success" in r.stdout,
          "signature from the key process does not verify: %r %r"
          % (r.stdout, r.stderr))


def _valid_ops(env, name):
    out = _probe(env, WORKER_USER, name, "valid")
    digest = bytes(range(32))
    for what, rsa, data in (
            ("ec", False, digest),
            ("rsa", True, bytes.fromhex(
                "3031300d060960864801650304020105000420") + digest)):
        rep = bytes.fromhex(out[what])
        check(len(rep) > 16, "%s answer: %r" % (what, out[what]))
        t, ln, status, n = struct.unpack("=IIII", rep[:16])
        eq((t, ln, status, n), (16, len(rep) - 8, 0, len(rep) - 16),
           "%s answer header" % what)
        _verify(env, env.ec[2] if not rsa else env.rsa[2], data,
                rep[16:].hex(), rsa)


def test_keymem_key_socket(env):
    user = env.add_user("alice", messages=[TRICKY])
    keypid = _start_daemon(env)
    name = _key_socket(env)
    _valid_ops(env, name)
    off = len(env.log())
    out = _probe(env, WORKER_USER, name, "attack")
    for case, answer in out.items():
        eq(answer, "", "%s: the key process answered instead of closing "
           "the connection" % case)
    reasons = {
        "garbage": r"refused: malformed message",
        "short header": r"refused: malformed message",
        "oversize": r"refused: ec-sign: bad length 2012",
        "huge": r"refused: malformed message",
        "wrong key": r"refused: ec-sign: wrong key index 9",
        "unknown type": r"refused: unknown request type 99",
        "rsa decrypt": r"refused: unknown request type 2",
        "wrong kind": r"refused: ec-sign: key 0 is not of that kind",
        "bad padding": r"refused: rsa-sign: padding 7 refused",
        "rsa length": r"refused: rsa-sign: 32 octets of data for key 0",
        "descriptor": r"refused: it carries a descriptor",
    }
    for case, rx in reasons.items():
        env.wait_log(r"key: key process: request from pid \d+ " + rx, 5,
                     off)
    # another uid may not even connect
    out = _probe(env, MAIL_USER, name, "valid")
    eq(out, {"ec": "", "rsa": ""}, "answers to uid %s" % MAIL_USER)
    env.wait_log(r"key process: connection from uid %d refused"
                 % env.mail_pw.pw_uid, 5, off)
    # it is the same key process, and it still works
    check(alive(keypid), "the key process died")
    eq(env.group_procs("satcheld: key"), [keypid], "key processes")
    _valid_ops(env, name)
    for name_, cert in ((HOST, env.rsa[0]), (OTHER, env.ec[0])):
        p = _tls(env.tlsport, name_)
        try:
            _peer_cert_is(p, cert)
            r = p.login(user, DEFAULT_PASSWORD)
            check(r.startswith("+OK"), "TLS login after the attack: %r" % r)
            p.cmd("QUIT")
        finally:
            p.close()
    check("killed by signal" not in env.log(), "a process crashed")
