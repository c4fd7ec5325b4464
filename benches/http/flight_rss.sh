#!/usr/bin/env bash
# Flight recorder memory (issue 14): the spool HTTP server of run.sh under
# wrk load for SECONDS (default 60), with the flight recorder on
# (SPOOL_FLIGHT_RECORDER, window SPOOL_FLIGHT_RECORDER_BYTES, default 16 MiB)
# and, for the baseline, without it; the server's RSS (VmRSS of
# /proc/PID/status) sampled once a second. Prints the two curves and their
# difference against the bound max_bytes + one generation (4 MiB) + 2 MiB.
#
#   benches/http/flight_rss.sh [SECONDS] [MAX_BYTES]
#
# Writes target/http-bench/rss-{flight,plain}.tsv (second, RSS KiB, req so far).
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-60}
max=${2:-16777216}
out=target/http-bench
mkdir -p "$out/flight-rss"
cargo build --release --quiet --features hyper --example http_server

# curve NAME PORT ENV...: server under load, RSS each second into $out/rss-NAME.tsv.
curve() {
    local name=$1 port=$2
    shift 2
    env SPOOL_PROCS=2 "$@" target/release/examples/http_server "$port" >"$out/rss-$name.log" 2>&1 &
    local pid=$!
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
        sleep 0.1
    done
    wrk -t1 -c64 "-d${secs}s" "http://127.0.0.1:$port/" >"$out/rss-$name.wrk" &
    local wrk=$!
    : >"$out/rss-$name.tsv"
    for s in $(seq 0 "$secs"); do
        echo "$s $(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")" >>"$out/rss-$name.tsv"
        sleep 1
    done
    wait "$wrk" || true
    kill -TERM "$pid"
    wait "$pid" || true
}
curve plain 3110
curve flight 3111 SPOOL_FLIGHT_RECORDER="$out/flight-rss" SPOOL_FLIGHT_RECORDER_BYTES="$max"

python3 - "$out" "$max" <<'PY'
import sys
out, mx = sys.argv[1], int(sys.argv[2])
load = lambda n: [tuple(map(int, l.split())) for l in open(f"{out}/rss-{n}.tsv") if len(l.split()) == 2]
plain, flight = load("plain"), load("flight")
bound = (mx + (4 << 20) + (2 << 20)) // 1024
print(f"{'s':>4} {'plain KiB':>10} {'flight KiB':>11} {'diff KiB':>9}")
for (s, p), (_, f) in zip(plain, flight):
    if s % 5 == 0:
        print(f"{s:4} {p:10} {f:11} {f - p:9}")
pk, fk = max(p for _, p in plain), max(f for _, f in flight)
print(f"peak: plain {pk} KiB, flight {fk} KiB; flight - plain peak {fk - pk} KiB; "
      f"bound max_bytes + 4 MiB + 2 MiB = {bound} KiB: {'within' if fk - pk <= bound else 'OVER'}")
last = [f for s, f in flight if s >= len(flight) // 2]
print(f"flight RSS over the second half: {min(last)}..{max(last)} KiB")
PY
