#!/usr/bin/env bash
# Benchmark against a floor measured in the same run, for 1 and 3 instances
# (or the counts given), optionally against a base git revision. Each round
# drives, for each instance count, one after the other with the same load tool
# (wrk when installed, else sumload; 64 connections split over the instances,
# unique keys):
#   noop   a no-op Go handler with sumd's net/http settings (scripts/noop)
#   sumd   this tree's sumd at its default settings (info logs, Redis on, group commit)
#   base   with BASE=<rev>: that revision's sumd, same settings (rounds alternate
#          base/sumd and sumd/base, so that neither always runs second)
#   off    with EXTRA containing "off": sumd -batch-max 1 (group commit off)
#   claims with EXTRA containing "claims": sumd -redis-claims
#   noredis with EXTRA containing "noredis": sumd -redis-url off (MySQL's primary
#          key alone answers repeated keys: what the per-request Redis look-up saves)
# With KEYS=dup:SHARE (e.g. KEYS=dup:0.5) every round uses sumload with that
# share of requests repeating an earlier key of the round (replays), instead of
# unique keys;
# and with LOW=RATE (e.g. LOW=100) a paced round at RATE req/s (sumload -rate,
# 8 clients) of sumd (and base) on one instance, for p50/p99 at low load.
# It prints for each: req/s, p50, p99, CPU µs per request by process (from
# /proc/PID/stat: sumd (all instances), MariaDB, Redis, the load tool) and the
# average batch, then medians and same-run ratios: sumd/noop, sumd/base, and
# 3 instances over 1 in MariaDB and in sumd+MariaDB+Redis CPU per addition.
# MariaDB and Redis are private to the run by default (PRIVATE=1: a fresh
# mariadbd with the durable settings of the e2e servers, binary log and
# sync_binlog=1, and a redis-server without persistence, on ports of its
# own), so that their CPU counts this run's load alone on a shared machine;
# PRIVATE=0 uses the shared services at 3306 and 6379.
# Usage: [BASE=rev] [EXTRA="off claims"] [LOW=100] [KEYS=dup:0.5] [PRIVATE=0] scripts/bench.sh [rounds=3] [seconds=10] [instances="1 3"]
set -euo pipefail
# the instances this script starts and stops need no drain (-shutdown-delay)
export SUM_SHUTDOWN_DELAY=0
if [ -z "${BENCH_ROOT:-}" ]; then # run a copy: an edit of this file during a run must not change the run
  snap=$(mktemp)
  cp "$0" "$snap"
  BENCH_ROOT=$(cd "$(dirname "$0")/.." && pwd) BENCH_SNAPSHOT=$snap exec bash "$snap" "$@"
fi
cd "$BENCH_ROOT"
rm -f "$BENCH_SNAPSHOT"
rounds=${1:-3}
secs=${2:-10}
counts=${3:-1 3}
conns=64
port0=$((20000 + $$ % 400 * 100)) # ports of its own: other runs may use 1808x
[ "${PRIVATE:-1}" = 1 ] || scripts/services.sh
bin=$(mktemp -d)
db=idemsum_bench_$$ # its own database and Redis prefix: runs never meet
prefix=bench$$:
pids=()
cleanup() { # its Redis keys and MySQL database, what this script started, its files
  if [ "${PRIVATE:-1}" != 1 ]; then
    redis-cli -n 14 --scan --pattern "$prefix*" | xargs -r -n 500 redis-cli -n 14 unlink >/dev/null || true
    mariadb --no-defaults -uroot -h127.0.0.1 -e "DROP DATABASE IF EXISTS $db" || true
  fi
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do while kill -0 "$p" 2>/dev/null; do sleep 0.05; done; done
  rm -rf "$bin"
}
trap cleanup EXIT
go build -o "$bin/sumd" ./cmd/sumd
go build -o "$bin/noop" ./scripts/noop
go build -o "$bin/sumload" ./cmd/sumload
if [ -n "${BASE:-}" ]; then # the base revision's sumd, built from its own files
  mkdir "$bin/base-src"
  git archive "$BASE" | tar -x -C "$bin/base-src"
  (cd "$bin/base-src" && go build -o "$bin/sumd-base" ./cmd/sumd)
fi
mport=3306 rport=6379
if [ "${PRIVATE:-1}" = 1 ]; then # private servers, stopped by cleanup (their PIDs are in pids)
  mport=$((port0 + 90)) rport=$((port0 + 91))
  mkdir -p "$bin/my/data" "$bin/my/tmp"
  asroot=(); [ "$(id -u)" = 0 ] && asroot=(--user=root)
  small=(--innodb-buffer-pool-size=128M --innodb-log-file-size=64M --performance-schema=OFF --skip-name-resolve)
  mariadb-install-db --no-defaults --datadir="$bin/my/data" --tmpdir="$bin/my/tmp" \
    --auth-root-authentication-method=normal --skip-test-db "${asroot[@]}" "${small[@]}" >"$bin/my/install.log" 2>&1
  /usr/sbin/mariadbd --no-defaults --datadir="$bin/my/data" --tmpdir="$bin/my/tmp" --port=$mport \
    --bind-address=127.0.0.1 --socket="$bin/my/sock" --pid-file="$bin/my/pid" --log-error="$bin/my/error.log" \
    --server-id=1 --log-bin=binlog --binlog-format=ROW --sync-binlog=1 --innodb-flush-log-at-trx-commit=1 \
    --max-connections=300 "${asroot[@]}" "${small[@]}" &
  mysqld_pid=$! && pids+=($!)
  redis-server --port $rport --bind 127.0.0.1 --save '' --appendonly no >"$bin/redis.log" 2>&1 &
  redis_pid=$! && pids+=($!)
  for _ in $(seq 1200); do mariadb --no-defaults -uroot -h127.0.0.1 -P$mport -e 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.1; done
  if ! mariadb --no-defaults -uroot -h127.0.0.1 -P$mport -e 'SELECT 1' >/dev/null 2>&1; then
    echo "the private mariadbd did not answer on port $mport within 2 minutes:" >&2
    tail -20 "$bin/my/error.log" >&2
    exit 1
  fi
  for _ in $(seq 100); do redis-cli -p $rport ping >/dev/null 2>&1 && break; sleep 0.1; done
else
  mysqld_pid=$(pgrep -xo mariadbd || pgrep -xo mysqld) # read, never signalled
  redis_pid=$(pgrep -o -f 'redis-server .*:6379' || pgrep -xo redis-server)
fi
rdb=redis://127.0.0.1:$rport/14
mariadb --no-defaults -uroot -h127.0.0.1 -P$mport -e "DROP DATABASE IF EXISTS $db; CREATE DATABASE $db"
tool=sumload
command -v wrk >/dev/null && [ -z "${KEYS:-}" ] && tool=wrk
hz=$(getconf CLK_TCK)

ticks() { # ticks PID...: utime+stime of each, summed
  local t=0
  for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
  echo "$t"
}

serve() { # serve N KIND ARGS...: start N servers of KIND on ports port0+1...; sets srv_pids and urls
  local n=$1 kind=$2 i
  shift 2
  srv_pids=() urls=()
  for i in $(seq "$n"); do
    local port=$((port0 + i))
    case $kind in
    noop) "$bin/noop" -http-addr 127.0.0.1:$port >"$bin/$port.out" 2>&1 & ;;
    *)
      local exe=$bin/sumd
      [ "$kind" = base ] && exe=$bin/sumd-base
      "$exe" -http-addr 127.0.0.1:$port -mysql-dsn "root@tcp(127.0.0.1:$mport)/$db" \
        -redis-url "$rdb" -redis-prefix "$prefix" "$@" >"$bin/$port.out" 2>/dev/null &
      ;;
    esac
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

load() { # load OUT RATE: drive the servers for $secs (only the load tool runs as our child meanwhile)
  local out=$1 rate=$2 lp=() u
  if [ "$tool" = wrk ] && [ "$rate" = 0 ]; then
    # wrk takes one URL: with several instances, one wrk per instance, connections split.
    for u in "${urls[@]}"; do
      wrk -t1 -c$((conns / ${#urls[@]})) -d"${secs}s" --latency -s scripts/wrk/unique.lua "$u" -- "r$RANDOM$RANDOM" >"$out.w${u##*:}" &
      lp+=($!) pids+=($!)
    done
  else
    local ulist c=$conns
    ulist=$(IFS=,; echo "${urls[*]}")
    [ "$rate" != 0 ] && c=8
    "$bin/sumload" -urls "$ulist" -c $c -rate "$rate" -d "${secs}s" -keys "${KEYS:-unique}" -json >"$out.json" &
    lp+=($!) pids+=($!)
  fi
  wait "${lp[@]}" || [ "$kind" = noop ] # the no-op keeps no total: sumload's check fails there
}

show='
import json, sys
r = json.loads(sys.stdin.read())
tot = r["sumd"] + r["mysql"] + r["redis"] + r["load"]
print("%-10s %8.0f req/s  p50 %6.2f ms  p99 %6.1f ms  CPU us/req: server %5.0f  mariadb %4.0f  redis %4.0f  load %4.0f  total %5.0f  batch %s"
      % (r["name"], r["rps"], r["p50"], r["p99"], r["sumd"], r["mysql"], r["redis"], r["load"], tot, r["batch"]))'

round() { # round NAME N RATE KIND SERVE-ARGS...
  local name=$1 n=$2 rate=$3 kind=$4
  shift 3
  serve "$n" "$@"
  local s0 m0 r0 c0 c1 start end
  s0=$(ticks "${srv_pids[@]}"); m0=$(ticks "$mysqld_pid"); r0=$(ticks "$redis_pid")
  # The load tool's CPU: what our waited-for children used (cutime+cstime of this shell).
  c0=$(awk '{print $16 + $17}' /proc/$$/stat)
  start=$(date +%s.%N)
  load "$bin/$name" "$rate"
  c1=$(awk '{print $16 + $17}' /proc/$$/stat)
  lt=$((c1 - c0))
  end=$(date +%s.%N)
  local s1 m1 r1; s1=$(ticks "${srv_pids[@]}"); m1=$(ticks "$mysqld_pid"); r1=$(ticks "$redis_pid")
  local batch="-"
  if [ "$kind" != noop ]; then
    batch=$(for u in "${urls[@]}"; do curl -s "$u/metrics"; done | awk '/^idemsum_batch_size_sum/{s+=$2} /^idemsum_batch_size_count/{c+=$2} END{if (c>0) printf "%.1f", s/c; else print "-"}')
  fi
  unserve
  python3 - "$bin/$name" "$name" "$tool" "$hz" "$((s1 - s0))" "$((m1 - m0))" "$((r1 - r0))" "$lt" "$start" "$end" "$batch" "$kind" "$n" "$rate" >>"$bin/rows" <<'PY'
import glob, json, re, sys
out, name, tool, hz, s, m, r, l, start, end, batch, kind, n, rate = sys.argv[1:]
hz = float(hz)
def ms(v, unit):
    return float(v) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
if tool == "wrk" and rate == "0":
    reqs, p50s, p99s = 0, [], []
    for f in glob.glob(out + ".w*"):
        t = open(f).read()
        reqs += int(re.search(r"(\d+) requests in", t).group(1))
        p50s.append(ms(*re.search(r"50%\s+([\d.]+)(us|ms|s)", t).groups()))
        p99s.append(ms(*re.search(r"99%\s+([\d.]+)(us|ms|s)", t).groups()))
        bad = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
        if bad:
            print(f"# {name}: {bad.group(1)} non-2xx responses", file=sys.stderr)
    rps = reqs / (float(end) - float(start))
    p50, p99 = max(p50s), max(p99s)
else:
    j = json.load(open(out + ".json"))
    reqs, rps, p50, p99 = j["requests"], j["rps"], j["p50_ms"], j["p99_ms"]
    if j.get("check") not in (None, "ok") and kind != "noop":
        print(f"# {name}: sumload check {j['check']}", file=sys.stderr)
us = lambda ticks: float(ticks) / hz * 1e6 / max(reqs, 1)
if kind == "noop":
    m = r = 0
print(json.dumps({"name": name, "kind": kind, "n": int(n), "rate": float(rate), "rps": rps, "p50": p50, "p99": p99,
                  "sumd": us(s), "mysql": us(m), "redis": us(r), "load": us(l), "batch": batch}))
PY
  tail -1 "$bin/rows" | python3 -c "$show"
}

echo "machine: $(nproc) cores, $(free -g | awk '/Mem/{print $2}') GiB, load average $(cut -d' ' -f1-3 /proc/loadavg); $rounds rounds of ${secs}s; instances: $counts; $conns connections, keys ${KEYS:-unique}, load tool $tool; MariaDB and Redis $([ "${PRIVATE:-1}" = 1 ] && echo private || echo shared)${BASE:+; base $BASE ($(git rev-parse --short "$BASE"))}"
for i in $(seq "$rounds"); do
  order="sumd"
  if [ -n "${BASE:-}" ]; then # alternate which of the two runs first
    order="sumd base"
    [ $((i % 2)) = 0 ] && order="base sumd"
  fi
  for n in $counts; do
    round "noop$n.$i" "$n" 0 noop
    for k in $order; do round "$k$n.$i" "$n" 0 "$k"; done
    for x in ${EXTRA:-}; do
      case $x in
      off) round "off$n.$i" "$n" 0 sumd -batch-max 1 ;;
      claims) round "claims$n.$i" "$n" 0 sumd -redis-claims ;;
      noredis) round "noredis$n.$i" "$n" 0 sumd -redis-url off ;;
      esac
    done
  done
  if [ -n "${LOW:-}" ]; then
    for k in $order; do round "low-$k.$i" 1 "$LOW" "$k"; done
  fi
done
python3 - "$bin/rows" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
rows = [dict(r, kind=r["name"].split(".")[0].rstrip("0123456789").removeprefix("low-")) for r in rows]
med = statistics.median
def pick(kind, n=None, low=False):
    return [r for r in rows if r["kind"] == kind and (n is None or r["n"] == n) and (r["rate"] > 0) == low]
cost = lambda r: r["sumd"] + r["mysql"] + r["redis"]
counts = sorted({r["n"] for r in rows if r["rate"] == 0})
print("\nmedians (CPU in us per request = per addition; server = all instances)")
for n in counts:
    for kind in ("noop", "sumd", "base", "off", "claims", "noredis"):
        rs = pick(kind, n)
        if not rs:
            continue
        b = [float(r["batch"]) for r in rs if r["batch"] != "-"]
        print(f"  {n} x {kind:<6} {med(r['rps'] for r in rs):>8.0f} req/s  p99 {med(r['p99'] for r in rs):6.1f} ms  "
              f"server+mariadb+redis {med(cost(r) for r in rs):4.0f} (server {med(r['sumd'] for r in rs):.0f}, "
              f"mariadb {med(r['mysql'] for r in rs):.0f}, redis {med(r['redis'] for r in rs):.0f})  "
              f"batch {med(b) if b else '-'}")
def ratios(label, xs, fmt):
    if xs:
        print(f"  {label:<34} {fmt(med(xs))}  (rounds: {', '.join(fmt(x) for x in xs)})")
pct, times = "{:.1%}".format, "{:.2f}x".format
print("same-run ratios (medians over rounds)")
for n in counts:
    noop = pick("noop", n)
    for kind in ("sumd", "base", "off", "claims", "noredis"):
        rs = pick(kind, n)
        ratios(f"{n} x {kind}/noop req/s", [s["rps"] / o["rps"] for s, o in zip(rs, noop)], pct)
    ratios(f"{n} x sumd/base req/s", [s["rps"] / b["rps"] for s, b in zip(pick("sumd", n), pick("base", n))], times)
    ratios(f"{n} x sumd/noredis req/s", [s["rps"] / b["rps"] for s, b in zip(pick("sumd", n), pick("noredis", n))], times)
if len(counts) > 1:
    lo, hi = counts[0], counts[-1]
    for kind in ("sumd", "base"):
        a, b = pick(kind, lo), pick(kind, hi)
        ratios(f"{kind} mariadb us/add {hi} over {lo}", [y["mysql"] / x["mysql"] for x, y in zip(a, b)], times)
        ratios(f"{kind} all us/add {hi} over {lo}", [cost(y) / cost(x) for x, y in zip(a, b)], times)
for kind in ("sumd", "base"):
    rs = pick(kind, low=True)
    if rs:
        print(f"  low load {kind:<5} {med(r['rps'] for r in rs):.0f} req/s  p50 {med(r['p50'] for r in rs):.2f} ms  "
              f"p99 {med(r['p99'] for r in rs):.2f} ms  (p50 rounds: {', '.join('%.2f' % r['p50'] for r in rs)}; "
              f"p99 rounds: {', '.join('%.2f' % r['p99'] for r in rs)})")
PY
