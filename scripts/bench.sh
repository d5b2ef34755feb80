#!/usr/bin/env bash
# Benchmark: three sumd instances on one MySQL and one Redis, driven by
# sumload with 64 clients and unique keys, with group commit on (A) and off
# (B: -batch-max 1), alternately in the same run (A B A B A B), so that the
# ratio is measured under the same machine noise. Prints each round and the
# medians. Usage: scripts/bench.sh [rounds] [seconds per round]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
secs=${2:-10}
scripts/services.sh
bin=$(mktemp -d)
db=idemsum_bench
cleanup() { # the instances, their files, the benchmark's Redis database and MySQL database
  kill $(cat "$bin"/*.pid 2>/dev/null) 2>/dev/null || true
  rm -rf "$bin"
  redis-cli -n 14 flushdb >/dev/null || true
  mariadb --no-defaults -uroot -h127.0.0.1 -e "DROP DATABASE IF EXISTS $db" || true
}
trap cleanup EXIT
go build -o "$bin/sumd" ./cmd/sumd
go build -o "$bin/sumload" ./cmd/sumload
rdb=redis://127.0.0.1:6379/14 # a database of its own, flushed before and after
redis-cli -n 14 flushdb >/dev/null
mariadb --no-defaults -uroot -h127.0.0.1 -e "DROP DATABASE IF EXISTS $db; CREATE DATABASE $db"
ports=(18081 18082 18083)
urls=$(printf 'http://127.0.0.1:%s,' "${ports[@]}"); urls=${urls%,}

start() { # start the three instances with extra flags "$@"
  for p in "${ports[@]}"; do
    "$bin/sumd" -http-addr 127.0.0.1:$p -mysql-dsn "root@tcp(127.0.0.1:3306)/$db" \
      -redis-url "$rdb" -log-level warn "$@" >"$bin/$p.out" 2>"$bin/$p.err" &
    echo $! >"$bin/$p.pid"
  done
  for p in "${ports[@]}"; do
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$p/healthz" >/dev/null && break; sleep 0.1; done
  done
}
stop() {
  for p in "${ports[@]}"; do kill "$(cat "$bin/$p.pid")"; done
  for p in "${ports[@]}"; do while kill -0 "$(cat "$bin/$p.pid")" 2>/dev/null; do sleep 0.05; done; done
}
round() { # round NAME FLAGS...
  local name=$1; shift
  start "$@"
  "$bin/sumload" -urls "$urls" -c 64 -d "${secs}s" -keys unique -json >"$bin/$name.json"
  stop
  python3 - "$bin/$name.json" "$name" <<'PY'
import json,sys
r=json.load(open(sys.argv[1]))
print(f"{sys.argv[2]:<6} {r['rps']:>9.0f} req/s  p50 {r['p50_ms']:.1f}ms  p95 {r['p95_ms']:.1f}ms  p99 {r['p99_ms']:.1f}ms  max {r['max_ms']:.1f}ms  status {r['by_status']}  check {r['check']}")
PY
  echo "$name $(python3 -c "import json;print(json.load(open('$bin/$name.json'))['rps'])")" >>"$bin/rps"
}
echo "machine: $(nproc) cores, $(free -g | awk '/Mem/{print $2}') GiB; $rounds rounds of ${secs}s; 3 instances, 64 clients, unique keys"
for i in $(seq "$rounds"); do
  round "A$i"
  round "B$i" -batch-max 1
done
python3 - "$bin/rps" <<'PY'
import statistics,sys
rows=[l.split() for l in open(sys.argv[1])]
a=[float(v) for n,v in rows if n[0]=="A"]; b=[float(v) for n,v in rows if n[0]=="B"]
ratios=[x/y for x,y in zip(a,b)]
print(f"median batching on  {statistics.median(a):.0f} req/s")
print(f"median batching off {statistics.median(b):.0f} req/s")
print(f"median ratio on/off {statistics.median(ratios):.2f}x (per round: {', '.join(f'{r:.2f}' for r in ratios)})")
PY
