"""Many sessions at once."""
import threading
import time

from satchel import Pop, check, crlf, rfc_size, eq, simple_message, wire

N = 100


def test_100_concurrent_sessions(env):
    users = []
    for i in range(N):
        users.append(env.add_user("u%03d" % i, messages=[
            simple_message(i, body=b"for u%03d" % i)]))
    # every client comes from 127.0.0.1: lift the per-address limit
    env.start(workers_min_spare=8, workers_max_spare=16, workers_max=200,
              auth_processes=4, max_connections_per_ip=0)
    results = [None] * N
    go = threading.Event()

    def one(i):
        try:
            go.wait(10)
            msg = simple_message(i, body=b"for u%03d" % i)
            with Pop(env.port, timeout=30) as p:
                eq(p.cmd("USER " + users[i]), "+OK", "USER")
                eq(p.cmd("PASS s3cret-pw"),
                   "+OK Logged in, 1 message (%d octets)" % rfc_size(msg),
                   "PASS")
                eq(p.cmd("STAT"), "+OK 1 %d" % rfc_size(msg), "STAT")
                eq(p.cmd("RETR 1"), "+OK %d octets" % rfc_size(msg),
                   "RETR")
                eq(p.raw_multiline(), wire(msg), "body")
                eq(p.cmd("QUIT"), "+OK Logging out, 0 messages deleted",
                   "QUIT")
            results[i] = "ok"
        except Exception as e:  # noqa: BLE001
            results[i] = "%s: %s" % (type(e).__name__, e)

    threads = [threading.Thread(target=one, args=(i,), daemon=True)
               for i in range(N)]
    for t in threads:
        t.start()
    t0 = time.monotonic()
    go.set()
    for t in threads:
        t.join(max(0.1, 60 - (time.monotonic() - t0)))
    secs = time.monotonic() - t0
    bad = [(users[i], r) for i, r in enumerate(results) if r != "ok"]
    check(not bad, "%d of %d sessions failed (%.1f s), e.g. %r"
          % (len(bad), N, secs, bad[:5]))
    log = env.log()
    eq(log.count("method=pass result=ok"), N, "logins in the log")
    check("killed by signal" not in log, "a process crashed under load")
