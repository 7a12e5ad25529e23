#!/usr/bin/python3
"""tests/bench/report.py RESULTS SERVERS -- the markdown tables of a
tests/bench/run.sh run (medians of its alternating runs), from the raw
results file (one line per measurement: server scenario value key=...).

Login table: sessions/s, server CPU ms per session (the whole process
tree), p50/p99 latency; RETR table: MB/s and server CPU ms per MiB for
one stream, N streams, one TLS stream and one stream of wire-clean
(CRLF) messages, beside the loopback ceiling; memory per idle session.
"""
import statistics
import sys


def load(path):
    data, meta = {}, []
    for line in open(path):
        if line.startswith("#"):
            meta.append(line[2:].rstrip())
            continue
        f = line.split()
        if len(f) < 3:
            continue
        try:
            v = float(f[2])
        except ValueError:
            continue
        kv = dict(x.split("=", 1) for x in f[3:] if "=" in x)
        pos = [x for x in f[3:] if "=" not in x]
        data.setdefault((f[0], f[1]), []).append((v, kv, pos))
    return data, meta


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def num(kv, k):
    try:
        return float(kv[k])
    except (KeyError, ValueError):
        return None


def fmt(v, unit=""):
    if v is None:
        return "-"
    if v >= 100:
        return "%.0f%s" % (v, unit)
    return "%.1f%s" % (v, unit)


def ratio(a, b):
    return "-" if a is None or b is None or b == 0 else "%.2fx" % (a / b)


def main():
    data, meta = load(sys.argv[1])
    servers = sys.argv[2].split() if len(sys.argv) > 2 else sorted(
        {s for s, _ in data})

    def rows(s, sc):
        return data.get((s, sc), [])

    def rate(s, sc):
        return med([v for v, _, _ in rows(s, sc)])

    def cpu_per_session(s, sc):
        out = []
        for v, kv, _ in rows(s, sc):
            c, ok = num(kv, "cpu_ms"), num(kv, "ok")
            if c is not None and ok:
                out.append(c / ok)
        return med(out)

    def lat(s, sc, i):
        return med([float(p[i]) for _, _, p in rows(s, sc) if len(p) > i])

    def cpu_per_mib(s, sc):
        out = []
        for v, kv, _ in rows(s, sc):
            c, b = num(kv, "cpu_ms"), num(kv, "bytes")
            if c is not None and b:
                out.append(c / (b / 1048576.0))
        return med(out)

    n = max((len(v) for v in data.values()), default=0)
    print("Medians of %d alternating runs." % n)
    print()
    logins = sorted({sc for _, sc in data if sc.startswith("login")},
                    key=lambda x: ("tls" in x, int(x.rsplit("c", 1)[1])))
    print("### Logins (USER, PASS, STAT, UIDL, QUIT per session)")
    print()
    print("| scenario | " + " | ".join(servers) +
          " | tuned Satchel / Dovecot HP | default Satchel / default "
          "Dovecot |")
    print("|---|" + "---|" * (len(servers) + 2))
    for sc in logins:
        cells = []
        for s in servers:
            r = rate(s, sc)
            cells.append("-" if r is None else "%s/s, %s ms CPU, p99 %s ms"
                         % (fmt(r), fmt(cpu_per_session(s, sc)),
                            fmt(lat(s, sc, 1))))
        print("| %s | %s | %s | %s |" % (
            sc, " | ".join(cells),
            ratio(rate("satchel_tuned", sc), rate("dovecot_tuned", sc)),
            ratio(rate("satchel", sc), rate("dovecot", sc))))
    print()
    print("CPU per session, tuned Satchel / Dovecot HP: " + ", ".join(
        "%s %s" % (sc, ratio(cpu_per_session("satchel_tuned", sc),
                             cpu_per_session("dovecot_tuned", sc)))
        for sc in logins))
    print()
    print("p99 ms at 64 clients: " + "; ".join(
        "%s: %s" % (sc, ", ".join("%s %s" % (s, fmt(lat(s, sc, 1)))
                                  for s in servers if rows(s, sc)))
        for sc in logins if sc.endswith("-c64")))
    print()

    dls = [sc for sc in ("download", "download-4", "download-tls",
                         "download-wire", "download-wire-tls")
           if any(rows(s, sc) for s in servers)]
    extra = sorted({sc for _, sc in data if sc.startswith("download") and
                    sc not in dls})
    dls += extra
    ceil = med([v for v, _, _ in data.get(("loopback", "tcp-ceiling"), [])])
    aes = med([v for v, _, _ in data.get(("openssl", "aes-128-gcm"), [])])
    print("### RETR of every message (MB/s; server CPU ms per MiB)")
    print()
    print("| server | " + " | ".join(dls) + " |")
    print("|---|" + "---|" * len(dls))
    for s in servers:
        if not any(rows(s, sc) for sc in dls):
            continue
        print("| %s | %s |" % (s, " | ".join(
            "-" if rate(s, sc) is None else "%s (%s ms/MiB)" % (
                fmt(rate(s, sc)), fmt(cpu_per_mib(s, sc)))
            for sc in dls)))
    print("| loopback TCP ceiling (one stream) | %s |" % " | ".join(
        [fmt(ceil)] + [""] * (len(dls) - 1)))
    print()
    print("openssl speed -evp aes-128-gcm, 16 KiB blocks, one core: %s MB/s"
          % fmt(aes))
    print()
    print("MB/s are 10^6 bytes per second of message bytes, counted by the "
          "client from the first RETR to the last \".\".  CPU is the "
          "server's whole process tree over the scenario, logins included.")
    print()
    for sat in ("satchel", "satchel_tuned"):
        if not rows(sat, "download"):
            continue
        parts = []
        for sc in dls:
            for other in ("popa3d", "dovecot_tuned", "dovecot"):
                r = ratio(rate(sat, sc), rate(other, sc))
                if r != "-":
                    parts.append("%s %s/%s %s" % (sc, sat, other, r))
        parts.append("download %s/loopback %s" % (
            sat, ratio(rate(sat, "download"), ceil)))
        if aes:
            parts.append("download-tls %s/AES-128-GCM core %s" % (
                sat, ratio(rate(sat, "download-tls"), aes)))
        print("Ratios: " + "; ".join(parts))
        print()

    print("### Memory per idle logged-in session (PSS of the whole tree)")
    print()
    print("| server | KiB/session (tree PSS / sessions) | KiB/session "
          "(growth over the idle server / sessions) |")
    print("|---|---|---|")
    for s in servers:
        v = rate(s, "idle-kib-per-session")
        if v is not None:
            print("| %s | %s | %s |" % (s, fmt(v), fmt(rate(
                s, "idle-kib-marginal"))))
    print()
    for m in meta:
        print(m)
        print()


main()
