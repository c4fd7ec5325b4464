#!/usr/bin/env bash
# HTTP benchmark: the same hyper "hello world" on spool (examples/http_server.rs)
# and on tokio (benches/http/tokio_server.rs, multi-thread, 2 workers), and Go's
# net/http (benches/go/httpserver), each loaded by `wrk -t1 -c64 -d10s` on
# 127.0.0.1; spool also with tracing on (SPOOL_TRACE) and with the flight
# recorder on (SPOOL_FLIGHT_RECORDER, default 16 MiB window). Servers get 2 threads/Ps
# (SPOOL_PROCS=2, worker_threads(2), GOMAXPROCS=2). Rounds alternate the
# servers (spool, tokio, Go, spool traced; each round starting one later) so
# load on a shared machine hits all of them alike; the table gives each
# one's median.
#
#   benches/http/run.sh [ROUNDS]     (default 3; each round is 5 x 10 s)
#   SERVERS="spool spool-traced spool-flight" DURATION=5s benches/http/run.sh 5
#
# SERVERS picks and orders the servers (default: spool tokio go spool-traced
# spool-flight); DURATION is wrk's -d (default 10s).
# Installs wrk (Debian package) if absent. Needs Go: $SPOOL_GO or `go`.
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3}
out=target/http-bench
mkdir -p "$out"

if ! command -v wrk >/dev/null; then
    apt-get update -qq && apt-get install -y -qq wrk
fi
go=${SPOOL_GO:-go}

spool_port=3100 tokio_port=3101 go_port=3102 traced_port=3103 flight_port=3104
duration=${DURATION:-10s}
read -r -a servers <<<"${SERVERS:-spool tokio go spool-traced spool-flight}"

# Build only the servers asked for.
examples=(--example http_server)
[[ " ${servers[*]} " == *" tokio "* ]] && examples+=(--example http_server_tokio)
cargo build --release --quiet --features hyper "${examples[@]}"
if [[ " ${servers[*]} " == *" go "* ]]; then
    (cd benches/go && "$go" build -o "../../$out/go-httpserver" ./httpserver)
fi

# wait_port PORT: until something accepts on 127.0.0.1:PORT (10 s at most).
wait_port() {
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "server on port $1 did not start" >&2
    return 1
}

# run NAME PORT CMD...: starts the server, loads it, stops it (SIGTERM),
# appends "NAME req/s p99_ms" to $out/results.
run() {
    local name=$1 port=$2
    shift 2
    "$@" >"$out/$name.log" 2>&1 &
    local pid=$!
    wait_port "$port"
    # The server's CPU time (utime + stime, in clock ticks) around the load:
    # CPU per request is less sensitive to a busy machine than req/s. The
    # pid is the server's own ($! of `env`, which execs it).
    local t0 t1
    t0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    wrk -t1 -c64 "-d$duration" --latency "http://127.0.0.1:$port/" >"$out/$name.wrk"
    t1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    kill -TERM "$pid"
    wait "$pid" || true
    local rps p99 reqs cpu_us
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$out/$name.wrk")
    reqs=$(awk '/requests in/ {print $1}' "$out/$name.wrk")
    cpu_us=$(awk -v d=$((t1 - t0)) -v n="$reqs" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", d / hz * 1e6 / n}')
    # p99 in ms (wrk prints us, ms or s).
    p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; print v}' "$out/$name.wrk")
    echo "$name $rps $p99 $cpu_us" >>"$out/results"
    echo "  $name: $rps req/s, p99 $p99 ms, server CPU $cpu_us us/request"
}

: >"$out/results"
one() {
    case $1 in
    spool) run spool $spool_port env SPOOL_PROCS=2 target/release/examples/http_server $spool_port ;;
    tokio) run tokio $tokio_port target/release/examples/http_server_tokio 127.0.0.1:$tokio_port ;;
    go) run go $go_port env GOMAXPROCS=2 "$out/go-httpserver" 127.0.0.1:$go_port ;;
    spool-traced) run spool-traced $traced_port env SPOOL_PROCS=2 SPOOL_TRACE="$out/spool.trace" \
        target/release/examples/http_server $traced_port ;;
    spool-flight) mkdir -p "$out/flight" && run spool-flight $flight_port env SPOOL_PROCS=2 \
        SPOOL_FLIGHT_RECORDER="$out/flight" target/release/examples/http_server $flight_port ;;
    *) echo "unknown server $1" >&2; exit 2 ;;
    esac
}
for r in $(seq "$rounds"); do
    echo "round $r/$rounds"
    # Each round starts one server later, so no server always runs first.
    for k in $(seq 0 $((${#servers[@]} - 1))); do
        one "${servers[$(((r - 1 + k) % ${#servers[@]}))]}"
    done
done

# Medians per server, and the ratios the issue asks for.
python3 - "$out/results" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, rps, p99, cpu = line.split()
    rows.setdefault(name, []).append((float(rps), float(p99), float(cpu)))
med = {n: tuple(statistics.median(r[i] for r in v) for i in range(3)) for n, v in rows.items()}
print(f"\n{'server':14} {'req/s':>8} {'p99 ms':>8} {'CPU us/req':>11}  (medians)  req/s of each run")
for n in ["spool", "tokio", "go", "spool-traced", "spool-flight"]:
    if n in med:
        m = med[n]
        print(f"{n:14} {m[0]:8.0f} {m[1]:8.2f} {m[2]:11.2f}  {', '.join(f'{r[0]:.0f}' for r in rows[n])}")
nan = (float("nan"),) * 3
s, t, g, st, sf = (med.get(k, nan) for k in ["spool", "tokio", "go", "spool-traced", "spool-flight"])
print(f"\nreq/s: spool/tokio {s[0]/t[0]:.2f}x (target >= 1.1), spool/Go {s[0]/g[0]:.2f}x (target >= 1.0), "
      f"traced/untraced {st[0]/s[0]:.2f}x (target >= 0.95), flight recorder/untraced {sf[0]/s[0]:.2f}x (target >= 0.98)")
print(f"CPU per request: spool/tokio {s[2]/t[2]:.2f}x, spool/Go {s[2]/g[2]:.2f}x, traced/untraced {st[2]/s[2]:.2f}x, "
      f"flight recorder/untraced {sf[2]/s[2]:.2f}x")
PY
