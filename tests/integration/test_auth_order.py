"""Logins from one busy address are served in the order they came.

The auth pool lets only a few attempts of one address run at once
(INFLIGHT_ADDR_MAX), so that many connections buy no more guesses than
a few.  The others wait.  They must not wait behind newer attempts of
the same address: behind a NAT, a webmail host or a load balancer that
does not speak the PROXY protocol, every user shares one address, and
logins that keep coming would otherwise keep the older ones waiting as
long as the stream lasts (the bench saw 4 s at 64 clients).
"""
import crypt
import re
import subprocess
import threading
import time

import satchel as S
from satchel import check

PW = "order-pw-Zr4"
FLOOD = 48		# popload clients logging in again and again
EARLY = 8		# logins started while the flood runs
FLOOD_SECS = 5.0


def slow_hash(pw):
    """A SHA512-CRYPT hash that takes tens of milliseconds to check, so
    the attempts under way fill the address's slots."""
    return "{SHA512-CRYPT}" + crypt.crypt(
        pw, "$6$rounds=60000$" + "orderedsalt12345")


SLOW = None


def add_slow_user(env, local):
    global SLOW
    if SLOW is None:
        SLOW = slow_hash(PW)
    user = env.add_user(local, PW, messages=[S.simple_message(1)])
    env.users[user] = (SLOW, env.users[user][1])
    return user


def login_time(env, user):
    t0 = time.monotonic()
    with env.client(timeout=30) as c:
        c.login(user, PW)
        t = time.monotonic() - t0
        c.cmd("QUIT")
    return t


def test_held_logins_of_one_address_keep_their_order():
    env = S.Env()
    try:
        flood = [add_slow_user(env, "flood%d" % i) for i in range(FLOOD)]
        early = [add_slow_user(env, "early%d" % i) for i in range(EARLY)]
        env.write_users()
        env.start(worker_max_sessions=1000, agent_max_sessions=1000,
                  workers_min_spare=FLOOD + EARLY + 4, workers_max=96,
                  workers_max_spare=FLOOD + EARLY + 8,
                  max_connections_per_ip=0, auth_workers=4)
        stop = time.monotonic() + FLOOD_SECS
        errors = []
        # The flood: the bench's C client, whose sessions come back at
        # once (a Python loop is too slow to overtake anyone).
        flood_out = subprocess.Popen(
            [S.popload(), "-s", "login", "-p", str(env.port), "-c", str(FLOOD),
             "-d", str(FLOOD_SECS), "-t", "30", "-u",
             "flood%d@" + S.DOMAIN, "-U", str(FLOOD), "-P", PW],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        time.sleep(1.0)		# the flood holds the address's slots
        times = {}

        def one(user):
            try:
                times[user] = login_time(env, user)
            except (S.Failure, OSError, EOFError) as e:
                errors.append("%s: %s" % (user, e))

        late = [threading.Thread(target=one, args=(u,)) for u in early]
        for t in late:
            t.start()
        for t in late:
            t.join(40)
        still_flooding = time.monotonic() < stop
        out = flood_out.communicate(timeout=60)[0].decode(errors="replace")
        check(not errors, "logins failed: %r" % errors[:3])
        check(still_flooding, "the flood ended before the early logins "
              "were done (this machine is too slow for the test)")
        check(" ok=" in out and " ok=0 " not in out,
              "the flood made no logins: %s" % out)
        # In order: FLOOD + EARLY attempts share 4 slots, so each one
        # waits for about (FLOOD + EARLY) / 4 others, a few tenths of a
        # second.  Overtaken by newer ones, some would wait until the
        # flood ends (FLOOD_SECS): the flood's own slowest session and
        # the early logins show it.
        worst = max(times.values())
        m = re.search(r"p50_ms=([0-9.]+) p99_ms=([0-9.]+) max_ms=([0-9.]+)",
                      out)
        check(m, "no result line from popload: %s" % out)
        p50, p99, fmax = (float(x) / 1000 for x in m.groups())
        bound = min(FLOOD_SECS - 2.0, max(2.0, 4 * p50))
        check(fmax < bound, "a flood session took %.2f s (p50 %.2f, p99 "
              "%.2f; bound %.2f s): held logins were overtaken by newer "
              "ones" % (fmax, p50, p99, bound))
        check(worst < bound, "an early login took %.2f s while the flood "
              "ran (bound %.2f s)" % (worst, bound))
    finally:
        env.cleanup()
