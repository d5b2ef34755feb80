#!/usr/bin/env bash
# CPU cost per request of tracing: sumd with tracing off, then on
# (OTEL_EXPORTER_OTLP_ENDPOINT pointing at a sink that discards the
# exports), alternately, each under wrk -t1 -c64 -d${secs}s with unique
# keys (scripts/wrk/unique.lua); CPU of the sumd process from
# /proc/PID/stat. Prints each run and the medians.
# Usage: scripts/tracecost.sh [rounds=3] [seconds=10]
set -euo pipefail
# the instances this script starts and stops need no drain (-shutdown-delay)
export SUM_SHUTDOWN_DELAY=0
cd "$(dirname "$0")/.."
rounds=${1:-3}
secs=${2:-10}
command -v wrk >/dev/null || { echo "tracecost: wrk is needed" >&2; exit 1; }
scripts/services.sh
bin=$(mktemp -d)
db=idemsum_tracecost
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$bin"
  redis-cli -n 14 flushdb >/dev/null || true
  mariadb --no-defaults -uroot -h127.0.0.1 -e "DROP DATABASE IF EXISTS $db" || true
}
trap cleanup EXIT
go build -o "$bin/sumd" ./cmd/sumd
go build -o "$bin/sink" ./scripts/otlpsink
redis-cli -n 14 flushdb >/dev/null
mariadb --no-defaults -uroot -h127.0.0.1 -e "DROP DATABASE IF EXISTS $db; CREATE DATABASE $db"
hz=$(getconf CLK_TCK)
"$bin/sink" >"$bin/sink.out" &
pids+=($!)
for _ in $(seq 50); do [ -s "$bin/sink.out" ] && break; sleep 0.1; done
sink=http://$(head -1 "$bin/sink.out")
results=()
port=18090
for round in $(seq "$rounds"); do
  for mode in off on; do
    port=$((port + 1)) # a port of its own per run
    env=()
    [ "$mode" = on ] && env=(OTEL_EXPORTER_OTLP_ENDPOINT="$sink" OTEL_SERVICE_NAME=sumd-tracecost)
    env "${env[@]}" "$bin/sumd" -http-addr 127.0.0.1:$port -mysql-dsn "root@tcp(127.0.0.1:3306)/$db" \
      -redis-url redis://127.0.0.1:6379/14 -log-level warn >"$bin/sumd.out" 2>/dev/null &
    pid=$!
    pids+=($pid)
    for _ in $(seq 300); do grep -q listening "$bin/sumd.out" 2>/dev/null && break; sleep 0.1; done
    grep -q listening "$bin/sumd.out" || { echo "tracecost: sumd did not start within 30s" >&2; exit 1; }
    wrk -t1 -c64 -d2s -s scripts/wrk/unique.lua http://127.0.0.1:$port -- "warm-$round-$mode-$$" >/dev/null
    t0=$(awk '{print $14 + $15}' /proc/$pid/stat)
    out=$(wrk -t1 -c64 -d"${secs}s" -s scripts/wrk/unique.lua http://127.0.0.1:$port -- "run-$round-$mode-$$")
    t1=$(awk '{print $14 + $15}' /proc/$pid/stat)
    reqs=$(echo "$out" | awk '/requests in/{print $1}')
    rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
    us=$(awk -v t=$((t1 - t0)) -v hz="$hz" -v n="$reqs" 'BEGIN{printf "%.1f", t / hz * 1e6 / n}')
    echo "round $round tracing $mode: $reqs requests, $rps req/s, sumd CPU $us µs/request"
    results+=("$mode $us $rps")
    kill "$pid"; wait "$pid" 2>/dev/null || true
  done
done
printf '%s\n' "${results[@]}" | python3 -c '
import statistics, sys
r = {"off": [], "on": []}
q = {"off": [], "on": []}
for line in sys.stdin:
    m, us, rps = line.split()
    r[m].append(float(us)); q[m].append(float(rps))
off, on = statistics.median(r["off"]), statistics.median(r["on"])
qoff, qon = statistics.median(q["off"]), statistics.median(q["on"])
print(f"median sumd CPU per request: off {off:.1f} µs, on {on:.1f} µs (+{on - off:.1f} µs, {on / off - 1:+.0%}); median req/s off {qoff:.0f}, on {qon:.0f}")
'
