#!/usr/bin/python3
"""tests/bench/stall.py -- issue 10's stall figure: login latency of
passwd-file users while two SASL clients hold SCRAM exchanges open
(client-first sent, then silence) and two PAM logins hang 20 s in
pam_exec, beside the same load with nothing held.

    tests/bench/stall.py [BUILDDIR]        (as root on Debian 12)

Uses the integration tests' harness (tests/integration/satchel.py) for
the daemon, real PAM (a private /etc/pam.d service whose auth is
pam_exec /bin/sleep 20, removed at the end) and the bench's own client
(popload, built here) for the load: LOAD_CONC clients for LOAD_SECS,
RUNS alternations of "quiet" and "stalled", in the default config and
with tests/bench/tuned.conf.  Prints one line per run and the medians;
bounded in count and time; everything is stopped at the end.
"""
import base64
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import satchel as S  # noqa: E402

RUNS = int(os.environ.get("RUNS", "3"))
LOAD_SECS = float(os.environ.get("LOAD_SECS", "4"))
LOAD_CONC = int(os.environ.get("LOAD_CONC", "4"))
NUSERS = 32
PW = "stall-bench-pw"


def tuned():
    """tests/bench/tuned.conf's keys, as Env.start() arguments."""
    out = {}
    with open(os.path.join(HERE, "tuned.conf")) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if "=" in line:
                k, v = (x.strip() for x in line.split("=", 1))
                out[k] = v
    return out


def pam_dir():
    for d in ("/usr/lib/x86_64-linux-gnu/security",
              "/lib/x86_64-linux-gnu/security",
              "/usr/lib/aarch64-linux-gnu/security"):
        if os.path.exists(os.path.join(d, "pam_exec.so")):
            return d
    sys.exit("stall.py: pam_exec.so not found (libpam-modules)")


HOLD_ADDR = [10]


def hold(env):
    """Two silent SCRAM exchanges and two hanging PAM logins, from an
    address of their own for each run (the load comes from 127.0.0.1):
    the PAM logins of a run still hang during the next, and the pool
    lets one address run only a few attempts at once."""
    held = []
    HOLD_ADDR[0] += 1
    src = "127.0.0.%d" % HOLD_ADDR[0]
    for n in ("u0", "u1"):
        s = socket.create_connection(("127.0.0.1", env.port), 5,
                                     source_address=(src, 0))
        s.recv(100)
        cf = base64.b64encode(("n,,n=%s@%s,r=%s" % (
            n, S.DOMAIN, secrets.token_hex(12))).encode()).decode()
        s.sendall(("AUTH SCRAM-SHA-256 %s\r\n" % cf).encode())
        if not s.recv(1000).startswith(b"+ "):
            sys.exit("stall.py: no SCRAM server-first")
        held.append(s)
    for n in ("slow1", "slow2"):
        s = socket.create_connection(("127.0.0.1", env.port), 5,
                                     source_address=(src, 0))
        s.recv(100)
        s.sendall(b"USER %s\r\nPASS x\r\n" % n.encode())
        held.append(s)
    time.sleep(0.5)
    if len(env.group_procs("satcheld: auth module pam")) < 2:
        sys.exit("stall.py: the PAM logins are not hanging in pam_exec")
    return held


def load(popload, env):
    out = subprocess.run(
        [popload, "-s", "login", "-p", str(env.port), "-c", str(LOAD_CONC),
         "-d", str(LOAD_SECS), "-t", "30", "-U", str(NUSERS), "-B", "2",
         "-u", "u%d@" + S.DOMAIN, "-P", PW],
        capture_output=True, text=True, timeout=LOAD_SECS + 60).stdout
    m = re.search(r"ok=(\d+) err=(\d+) .*rate=([0-9.]+) p50_ms=([0-9.]+) "
                  r"p99_ms=([0-9.]+) max_ms=([0-9.]+)", out)
    if not m:
        sys.exit("stall.py: popload said: %s" % out)
    return dict(zip(("ok", "err", "rate", "p50", "p99", "max"),
                    (float(x) for x in m.groups())))


def one_config(popload, name, over, service):
    env = S.Env()
    orig = S.Env.config_text
    env.config_text = lambda **o: (orig(env, **o) +
                                   "\n[pam]\nservice = %s\n" % service)
    res = {"quiet": [], "stalled": []}
    try:
        for i in range(NUSERS + 2):
            env.add_user("u%d" % i, password=PW,
                         messages=[S.simple_message(1)])
        kw = dict(auth="file pam", sasl="PLAIN LOGIN SCRAM-SHA-256",
                  max_connections_per_ip=0, timeout_login=120,
                  timeout_preauth=120, log_level="warning")
        kw.update(over)
        env.start(**kw)
        for run in range(RUNS):
            for what in ("quiet", "stalled"):
                held = hold(env) if what == "stalled" else []
                try:
                    r = load(popload, env)
                finally:
                    for s in held:
                        s.close()
                res[what].append(r)
                print("stall %s %s run=%d ok=%d err=%d rate=%.1f "
                      "p50_ms=%.1f p99_ms=%.1f max_ms=%.1f" % (
                          name, what, run + 1, r["ok"], r["err"], r["rate"],
                          r["p50"], r["p99"], r["max"]), flush=True)
                # the hanging PAM workers are replaced after 20 s at most
                # (auth_timeout); let the pool settle between runs
                time.sleep(1)
    finally:
        env.cleanup()
    return res


def main():
    if os.geteuid() != 0:
        sys.exit("stall.py: run as root")
    S.BUILDDIR = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                                 os.path.join(HERE, "..", ".."))
    if not os.path.exists(os.path.join(S.BUILDDIR, ".libs",
                                       "auth_pam.so")):
        sys.exit("stall.py: no auth_pam.so in %s/.libs" % S.BUILDDIR)
    tmp = tempfile.mkdtemp(prefix="bench-stall-")
    subprocess.run(["make", "-s", "-C", HERE, "-f", "bench.mk", "O=" + tmp,
                    "CC=gcc", "CFLAGS=-O2 -Wall"], check=True, timeout=300)
    popload = os.path.join(tmp, "popload")
    service = "satchel-stall-" + secrets.token_hex(3)
    svcfile = os.path.join("/etc/pam.d", service)
    d = pam_dir()
    with open(svcfile, "w") as f:
        f.write("auth required %s/pam_exec.so quiet /bin/sleep 20\n" % d)
        f.write("account required %s/pam_permit.so\n" % d)
    try:
        table = []
        for name, over in (("satchel", {}), ("satchel_tuned", tuned())):
            res = one_config(popload, name, over, service)
            for what in ("quiet", "stalled"):
                rs = res[what]
                table.append((name, what,
                              statistics.median(r["rate"] for r in rs),
                              statistics.median(r["p50"] for r in rs),
                              statistics.median(r["p99"] for r in rs),
                              max(r["max"] for r in rs),
                              sum(r["err"] for r in rs)))
    finally:
        os.unlink(svcfile)
        subprocess.run(["rm", "-rf", tmp])
    print()
    print("| config | held | logins/s | p50 ms | p99 ms | max ms | errors |")
    print("|---|---|---|---|---|---|---|")
    for row in table:
        print("| %s | %s | %.1f | %.1f | %.1f | %.1f | %d |" % row)
    print("(medians of %d runs of %d clients for %g s; held: 2 silent "
          "SCRAM exchanges + 2 PAM logins hanging 20 s)" % (
              RUNS, LOAD_CONC, LOAD_SECS))


if __name__ == "__main__":
    main()
