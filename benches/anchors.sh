#!/usr/bin/env bash
# Tracer-cost anchors (issue 14): Go's -trace against SPOOL_TRACE on the same
# shapes (spawn, chan ping-pong, yield/Gosched), each run a fresh process of
# 0.5 s or more, 2 Ps / GOMAXPROCS=2. Per workload and round the four runs
# (Go untraced, Go traced, spool untraced, spool traced) go back to back, the
# order rotating by round; the table gives medians of the rounds and what
# tracing adds per operation (traced - untraced medians), wall and CPU.
# Each round also times 10^8 back-to-back clock reads (`anchors clock`): the
# clock floor that spool's added cost per yield is set against.
#
#   benches/anchors.sh [ROUNDS]      (default 5)
#
# Sources: benches/go/anchors/main.go, examples/anchors.rs. Needs Go: $SPOOL_GO
# or `go`. Traces go to target/anchors/ and are deleted after each run.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
out=target/anchors
mkdir -p "$out"
go=${SPOOL_GO:-go}
cargo build --release --quiet --example anchors
(cd benches/go && "$go" build -o "../../$out/go-anchors" ./anchors)

# Operations per run: each side runs >= 0.5 s untraced on this machine.
declare -A spool_n=([spawn]=5000000 [pingpong]=2000000 [yield]=20000000)
declare -A go_n=([spawn]=1000000 [pingpong]=2000000 [yield]=5000000)

: >"$out/results"
# one SIDE MODE WORKLOAD: one fresh process; appends "SIDE MODE WORKLOAD wall cpu".
one() {
    local side=$1 mode=$2 w=$3 line
    local tr="$out/$side-$w.trace"
    if [ "$side" = go ]; then
        local args=(-workload "$w" -n "${go_n[$w]}")
        [ "$mode" = traced ] && args+=(-trace "$tr")
        line=$(GOMAXPROCS=2 "$out/go-anchors" "${args[@]}")
    elif [ "$mode" = traced ]; then
        line=$(SPOOL_TRACE="$tr" target/release/examples/anchors "$w" "${spool_n[$w]}")
    else
        line=$(target/release/examples/anchors "$w" "${spool_n[$w]}")
    fi
    rm -f "$tr"
    echo "$line" | sed 's/^/  /'
    echo "$line" | awk -v s="$side" -v m="$mode" -v w="$w" \
        'NR == 1 {print s, m, w, $(NF-5), $(NF-2)}' >>"$out/results"
}
runs=("go untraced" "go traced" "spool untraced" "spool traced")
for r in $(seq "$rounds"); do
    echo "round $r/$rounds, $(uptime | sed 's/.*load/load/')"
    line=$(target/release/examples/anchors clock 100000000)
    echo "  $line"
    echo "$line" | awk '{print "spool clock clock", $(NF-5), $(NF-2)}' >>"$out/results"
    for w in spawn pingpong yield; do
        for k in 0 1 2 3; do
            # shellcheck disable=SC2086
            one ${runs[$(((r - 1 + k) % 4))]} "$w"
        done
    done
done

python3 - "$out/results" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    side, mode, w, wall, cpu = line.split()
    rows.setdefault((side, mode, w), []).append((float(wall), float(cpu)))
med = {k: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v)) for k, v in rows.items()}
print(f"\n{'workload':9} {'side':6} {'untraced':>17} {'traced':>17} {'added ns/op':>17}   (wall / cpu, medians)")
added = {}
for w in ["spawn", "pingpong", "yield"]:
    for side in ["go", "spool"]:
        u, t = med[(side, "untraced", w)], med[(side, "traced", w)]
        added[(side, w)] = (t[0] - u[0], t[1] - u[1])
        print(f"{w:9} {side:6} {u[0]:8.1f} {u[1]:8.1f} {t[0]:8.1f} {t[1]:8.1f} {t[0]-u[0]:8.1f} {t[1]-u[1]:8.1f}")
clock = med[("spool", "clock", "clock")]
y = added[("spool", "yield")]
print(f"\nclock floor (back-to-back reads): {clock[0]:.2f} ns wall, {clock[1]:.2f} ns cpu; "
      f"traced yield adds {y[0] / clock[0]:.1f}x (wall) / {y[1] / clock[1]:.1f}x (cpu) of it (target <= 2x)\n")
for w in ["spawn", "pingpong", "yield"]:
    s, g = added[("spool", w)], added[("go", w)]
    ratio = lambda a, b: f"{a / b:.2f}x" if b > 0 else "n/a"
    print(f"{w:9} spool added / Go added: wall {ratio(s[0], g[0])}, cpu {ratio(s[1], g[1])} (target <= 0.33x)")
PY
