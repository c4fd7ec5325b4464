#!/usr/bin/env bash
# Scale numbers of the spool-trace viewer (docs/viewer.md, "Performance"):
# wall time and max RSS of check / summary / pprof / exports / html on a
# traced spool workload, output sizes over the trace's size, and (with
# Chromium) the time until the HTML page and the served page have drawn
# their timeline, and their pan redraws.
#
#   benches/viewer_scale.sh [PING_PONG_ITERATIONS]   # default 1100: ~10M events, ~52 MB
#
# Needs a release build (cargo build --release -p spool-trace --example workload
# is done here) and, for the page timing, tests/browser's npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."
iters=${1:-1100}
out=target/viewer-scale
mkdir -p "$out"
cargo build --release -q -p spool-trace --bin spool-trace
cargo build --release -q --example workload
trace="$out/ping_pong-$iters.trace"
SPOOL_TRACE="$trace" target/release/examples/workload spool ping_pong "$iters"
size=$(stat -c %s "$trace")
bin=target/release/spool-trace
"$bin" check "$trace"
printf '%-34s %9s %10s %8s %12s\n' command wall "max RSS" "RSS/trace" "output/trace"
run() {
    local name=$1 outfile=$2 wall kb ratio=""
    shift 2
    /usr/bin/time -o "$out/time" -f '%e %M' "$bin" "$@" > /dev/null 2> "$out/stderr"
    read -r wall kb < "$out/time"
    if [ -n "$outfile" ]; then
        ratio=$(awk -v a="$(stat -c %s "$outfile")" -v b="$size" 'BEGIN{printf "%.2fx", a/b}')
    fi
    printf '%-34s %8ss %8s MB %7.2fx %12s\n' "$name" "$wall" $((kb / 1024)) \
        "$(awk -v a="$kb" -v b="$size" 'BEGIN{print a*1024/b}')" "$ratio"
}
run "check" "" check "$trace"
run "summary" "" summary "$trace"
run "pprof --kind sched" "$out/sched.pb.gz" pprof --kind sched "$trace" -o "$out/sched.pb.gz"
run "export --format perfetto" "$out/out.pftrace" export "$trace" --format perfetto -o "$out/out.pftrace"
run "export --format chrome-json" "$out/out.json" export "$trace" --format chrome-json -o "$out/out.json"
run "html" "$out/page.html" html "$trace" -o "$out/page.html"
echo "trace: $trace, $size bytes"
if [ -x /usr/bin/chromium ] && [ -d tests/browser/node_modules ]; then
    node tests/browser/perf.js "$out/page.html"
    # The served page (binary columns, drawn before the second binary is in).
    SPOOL_TRACE_BIN="$bin" node tests/browser/perf.js "$trace"
fi
