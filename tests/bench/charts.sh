#!/bin/bash
# tests/bench/charts.sh RESULTS [OUTDIR] -- SVG charts of a
# tests/bench/run.sh run, with Debian's gnuplot (gnuplot-nox):
#
#   logins.svg      sessions/s against clients, plain and TLS, every server
#   retr.svg        RETR MB/s per server (1 stream, N streams, TLS, wire-
#                   clean messages) beside the loopback TCP ceiling
#   memory.svg      KiB per idle logged-in session
#
# RESULTS is the raw file run.sh writes (tests/bench/charts/results.txt);
# the medians are taken here the same way tests/bench/report.py takes
# them.  run.sh calls this at the end of every run; it can be run again
# on a kept results file.
set -eu
RES=$1
OUT=${2:-$(dirname "$RES")}
command -v gnuplot >/dev/null || { echo "charts.sh: no gnuplot" >&2; exit 1; }
mkdir -p "$OUT"
T=$(mktemp -d /tmp/bench-charts.XXXXXX)
trap 'rm -rf "$T"' EXIT

python3 - "$RES" "$T" <<'EOF'
import statistics, sys
res, t = sys.argv[1], sys.argv[2]
data = {}
order = []
for line in open(res):
    f = line.split()
    if line.startswith("#") or len(f) < 3:
        continue
    try:
        v = float(f[2])
    except ValueError:
        continue
    if f[0] not in order:
        order.append(f[0])
    data.setdefault((f[0], f[1]), []).append(v)
med = lambda s, sc: (statistics.median(data[(s, sc)])
                     if (s, sc) in data else None)
servers = [s for s in order if s not in ("loopback", "openssl")]
concs = sorted({int(sc.rsplit("c", 1)[1]) for _, sc in data
                if sc.startswith("login")})
for tls in ("", "-tls"):
    with open("%s/login%s.dat" % (t, tls), "w") as f:
        f.write("clients " + " ".join(servers) + "\n")
        for c in concs:
            vals = [med(s, "login%s-c%d" % (tls, c)) for s in servers]
            f.write("%d %s\n" % (c, " ".join("NaN" if v is None else
                                             "%.1f" % v for v in vals)))
dls = [("download", "1 stream"), ("download-4", "4 streams"),
       ("download-tls", "1 stream TLS"),
       ("download-wire", "1 stream, CRLF-stored")]
dls = [d for d in dls if any(med(s, d[0]) for s in servers)]
with open("%s/retr.dat" % t, "w") as f:
    f.write("server " + " ".join('"%s"' % d[1] for d in dls) + "\n")
    for s in servers:
        if not any(med(s, d[0]) for d in dls):
            continue
        f.write("%s %s\n" % (s, " ".join(
            "NaN" if med(s, d[0]) is None else "%.0f" % med(s, d[0])
            for d in dls)))
with open("%s/retr.n" % t, "w") as f:
    f.write("%d\n" % len(dls))
ceil = med("loopback", "tcp-ceiling")
with open("%s/ceiling" % t, "w") as f:
    f.write("%.0f\n" % (ceil or 0))
with open("%s/memory.dat" % t, "w") as f:
    for s in servers:
        v = med(s, "idle-kib-per-session")
        if v is not None:
            f.write("%s %.0f\n" % (s, v))
with open("%s/servers" % t, "w") as f:
    f.write("%d\n" % len(servers))
EOF

ns=$(cat "$T/servers")
nd=$(cat "$T/retr.n")
ceil=$(cat "$T/ceiling")

gnuplot <<EOF
set terminal svg size 900,420 dynamic noenhanced font "sans,12" background "white"
set datafile missing "NaN"
set grid ytics
set logscale x 2
set xtics (1, 4, 16, 64)
set xlabel "concurrent clients"
set ylabel "sessions/s (median)"
set yrange [0:*]
set output "$OUT/logins.svg"
set multiplot layout 1,2 title "Login storms: USER, PASS, STAT, UIDL, QUIT"
set title "plain"
set key inside left top font ",10"
plot for [i=2:$((ns + 1))] "$T/login.dat" using 1:i with linespoints lw 2 pt 7 title columnheader(i)
set title "implicit TLS"
plot for [i=2:$((ns + 1))] "$T/login-tls.dat" using 1:i with linespoints lw 2 pt 7 title columnheader(i)
unset multiplot

reset
set terminal svg size 900,420 dynamic noenhanced font "sans,12" background "white"
set datafile missing "NaN"
set output "$OUT/retr.svg"
set title "RETR of every message (1-4 MiB each), MB/s, median"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set key outside right top
set grid ytics
set yrange [0:$ceil * 1.15 + 1]
set ylabel "MB/s"
set xtics rotate by -20
set arrow from graph 0, first $ceil to graph 1, first $ceil nohead lw 2 dt 2 lc rgb "red"
set label "loopback TCP ceiling $ceil MB/s" at graph 0.01, first $ceil offset 0,0.7 tc rgb "red"
plot for [i=2:$((nd + 1))] "$T/retr.dat" using i:xtic(1) title columnheader(i)

reset
set terminal svg size 640,360 dynamic noenhanced font "sans,12" background "white"
set output "$OUT/memory.svg"
set title "Memory per idle logged-in session (PSS, KiB)"
set style data histograms
set style fill solid 0.8 border -1
set boxwidth 0.6
set grid ytics
set yrange [0:*]
unset key
plot "$T/memory.dat" using 2:xtic(1) lc rgb "#4477aa"
EOF
ls "$OUT"/*.svg
