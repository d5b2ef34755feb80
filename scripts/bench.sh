#!/usr/bin/env bash
# Benchmark against a floor measured in the same run. Each round drives, one
# after the other with the same load tool (wrk when installed, else sumload;
# 64 connections, unique keys):
#   noop   a no-op Go handler with sumd's net/http settings (scripts/noop)
#   sumd   sumd at its default settings (info logs, Redis on, group commit)
#   off    sumd with -batch-max 1 (group commit off)
#   claims sumd with -redis-claims (a Redis claim before each fresh key)
# and prints for each: req/s, p99, CPU µs per request by process (from
# /proc/PID/stat: sumd, MariaDB, Redis, the load tool) and the average batch,
# then the medians, sumd/noop, sumd/off and sumd/claims. Rounds alternate (A B C A B C ...)
# so that the ratios see the same machine noise.
# Usage: scripts/bench.sh [rounds=3] [seconds=10] [instances=1]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
secs=${2:-10}
instances=${3:-1}
conns=64
scripts/services.sh
bin=$(mktemp -d)
db=idemsum_bench
pids=()
cleanup() { # what this script started, its files, its Redis and MySQL databases
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$bin"
  redis-cli -n 14 flushdb >/dev/null || true
  mariadb --no-defaults -uroot -h127.0.0.1 -e "DROP DATABASE IF EXISTS $db" || true
}
trap cleanup EXIT
go build -o "$bin/sumd" ./cmd/sumd
go build -o "$bin/noop" ./scripts/noop
go build -o "$bin/sumload" ./cmd/sumload
rdb=redis://127.0.0.1:6379/14 # a database of its own, flushed before and after
redis-cli -n 14 flushdb >/dev/null
mariadb --no-defaults -uroot -h127.0.0.1 -e "DROP DATABASE IF EXISTS $db; CREATE DATABASE $db"
tool=sumload
command -v wrk >/dev/null && tool=wrk
hz=$(getconf CLK_TCK)
mysqld_pid=$(pgrep -xo mariadbd || pgrep -xo mysqld) # read, never signalled
redis_pid=$(pgrep -o -f 'redis-server .*:6379' || pgrep -xo redis-server)

ticks() { # ticks PID...: utime+stime of each, summed
  local t=0
  for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
  echo "$t"
}

serve() { # serve NAME ARGS...: start NAME's servers on ports 1808x; sets srv_pids and urls
  local i
  srv_pids=() urls=()
  for i in $(seq "$instances"); do
    local port=$((18080 + i))
    if [ "$1" = noop ]; then
      "$bin/noop" -http-addr 127.0.0.1:$port >"$bin/$port.out" 2>&1 &
    else
      "$bin/sumd" -http-addr 127.0.0.1:$port -mysql-dsn "root@tcp(127.0.0.1:3306)/$db" \
        -redis-url "$rdb" "${@:2}" >"$bin/$port.out" 2>/dev/null &
    fi
    srv_pids+=($!) urls+=("http://127.0.0.1:$port")
    pids+=($!)
  done
  for u in "${urls[@]}"; do # the no-op answers every path; sumd's /readyz once MySQL is ready
    for _ in $(seq 200); do curl -sf "$u/readyz" -o /dev/null && break; sleep 0.05; done
  done
}

unserve() {
  for p in "${srv_pids[@]}"; do kill "$p"; done
  for p in "${srv_pids[@]}"; do while kill -0 "$p" 2>/dev/null; do sleep 0.05; done; done
}

load() { # load OUT: drive the servers for $secs (only the load tool runs as our child meanwhile)
  local out=$1 lp=()
  if [ "$tool" = wrk ]; then
    # wrk takes one URL: with several instances, one wrk per instance, connections split.
    for u in "${urls[@]}"; do
      wrk -t1 -c$((conns / instances)) -d"${secs}s" --latency -s scripts/wrk/unique.lua "$u" -- "r$RANDOM$RANDOM" >"$out.w${u##*:}" &
      lp+=($!) pids+=($!)
    done
  else
    local ulist; ulist=$(IFS=,; echo "${urls[*]}")
    "$bin/sumload" -urls "$ulist" -c $conns -d "${secs}s" -keys unique -json >"$out.json" &
    lp+=($!) pids+=($!)
  fi
  wait "${lp[@]}"
}

show='
import json, sys
r = json.loads(sys.stdin.read())
tot = r["sumd"] + r["mysql"] + r["redis"] + r["load"]
print("%-7s %8.0f req/s  p99 %6.1f ms  CPU us/req: server %5.0f  mariadb %4.0f  redis %4.0f  load %4.0f  total %5.0f  batch %s"
      % (r["name"], r["rps"], r["p99"], r["sumd"], r["mysql"], r["redis"], r["load"], tot, r["batch"]))'

round() { # round NAME SERVE-ARGS...
  local name=$1; shift
  serve "$@"
  local s0 m0 r0 c0 c1 start end
  s0=$(ticks "${srv_pids[@]}"); m0=$(ticks "$mysqld_pid"); r0=$(ticks "$redis_pid")
  # The load tool's CPU: what our waited-for children used (cutime+cstime of this shell).
  c0=$(awk '{print $16 + $17}' /proc/$$/stat)
  start=$(date +%s.%N)
  load "$bin/$name"
  c1=$(awk '{print $16 + $17}' /proc/$$/stat)
  lt=$((c1 - c0))
  end=$(date +%s.%N)
  local s1 m1 r1; s1=$(ticks "${srv_pids[@]}"); m1=$(ticks "$mysqld_pid"); r1=$(ticks "$redis_pid")
  local batch="-"
  if [ "$1" != noop ]; then
    batch=$(for u in "${urls[@]}"; do curl -s "$u/metrics"; done | awk '/^idemsum_batch_size_sum/{s+=$2} /^idemsum_batch_size_count/{c+=$2} END{if (c>0) printf "%.1f", s/c; else print "-"}')
  fi
  unserve
  python3 - "$bin/$name" "$name" "$tool" "$hz" "$((s1 - s0))" "$((m1 - m0))" "$((r1 - r0))" "$lt" "$start" "$end" "$batch" "$1" >>"$bin/rows" <<'PY'
import glob, json, re, sys
out, name, tool, hz, s, m, r, l, start, end, batch, kind = sys.argv[1:]
hz = float(hz)
if tool == "wrk":
    reqs, p99s = 0, []
    for f in glob.glob(out + ".w*"):
        t = open(f).read()
        reqs += int(re.search(r"(\d+) requests in", t).group(1))
        m99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", t)
        v = float(m99.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m99.group(2)]
        p99s.append(v)
        bad = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
        if bad:
            print(f"# {name}: {bad.group(1)} non-2xx responses", file=sys.stderr)
    rps = reqs / (float(end) - float(start))
    p99 = max(p99s)
else:
    j = json.load(open(out + ".json"))
    reqs, rps, p99 = j["requests"], j["rps"], j["p99_ms"]
us = lambda ticks: float(ticks) / hz * 1e6 / max(reqs, 1)
if kind == "noop":
    m = r = 0
print(json.dumps({"name": name, "kind": kind, "rps": rps, "p99": p99, "sumd": us(s), "mysql": us(m), "redis": us(r), "load": us(l), "batch": batch}))
PY
  tail -1 "$bin/rows" | python3 -c "$show"
}

echo "machine: $(nproc) cores, $(free -g | awk '/Mem/{print $2}') GiB; $rounds rounds of ${secs}s; $instances instance(s), $conns connections, unique keys, load tool $tool"
for i in $(seq "$rounds"); do
  round "noop$i" noop
  round "sumd$i" sumd
  round "off$i" sumd -batch-max 1
  round "claims$i" sumd -redis-claims
done
python3 - "$bin/rows" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = lambda k: [r for r in rows if r["name"].startswith(k)]
noop, sumd, off, claims = by("noop"), by("sumd"), by("off"), by("claims")
med = lambda rs, f: statistics.median(r[f] for r in rs)
for label, rs in (("noop", noop), ("sumd", sumd), ("off", off), ("claims", claims)):
    tot = statistics.median(r["sumd"] + r["mysql"] + r["redis"] for r in rs)
    print(f"median {label:<6} {med(rs,'rps'):>8.0f} req/s  p99 {med(rs,'p99'):.1f} ms  server+mariadb+redis {tot:.0f} us/req (server {med(rs,'sumd'):.0f}, mariadb {med(rs,'mysql'):.0f}, redis {med(rs,'redis'):.0f}), load {med(rs,'load'):.0f}")
r1 = [s["rps"] / n["rps"] for s, n in zip(sumd, noop)]
r2 = [s["rps"] / o["rps"] for s, o in zip(sumd, off)]
print(f"median ratio sumd/noop {statistics.median(r1):.1%} (per round: {', '.join(f'{x:.1%}' for x in r1)})")
print(f"median ratio batching on/off {statistics.median(r2):.2f}x (per round: {', '.join(f'{x:.2f}' for x in r2)})")
r3 = [s["rps"] / c["rps"] for s, c in zip(sumd, claims)]
print(f"median ratio claims off/on {statistics.median(r3):.2f}x (per round: {', '.join(f'{x:.2f}' for x in r3)})")
PY
