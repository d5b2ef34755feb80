package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idemsum/idemsum/e2e/harness"
	"github.com/idemsum/idemsum/internal/mariadbtopo"
	"github.com/idemsum/idemsum/internal/testenv"
)

// cpuSetups are the deployments whose CPU per addition is measured: one
// sumd on a standalone server with Redis, without Redis, three sumd, and
// one sumd on a primary with a semi-synchronous replica on the same host.
var cpuSetups = []struct {
	name      string
	instances int
	redis     bool
	replica   bool
}{
	{"1 sumd, Redis", 1, true, false},
	{"1 sumd, no Redis", 1, false, false},
	{"3 sumd, Redis", 3, true, false},
	{"1 sumd, Redis, semi-sync replica", 1, true, true},
}

// testCPUPerAddition drives each set-up with wrk (64 connections, unique
// keys, number=1, so the total counts the additions) for 10 s, and reads
// each process's CPU time from /proc/PID/stat before and after.
func testCPUPerAddition(t *testing.T) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Skip("wrk is not installed (apt-get install -y wrk)")
	}
	const d = 10 * time.Second
	for _, s := range cpuSetups {
		t.Run(s.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			procs := map[string][]int{}
			var primary, replica *mariadbtopo.Server
			if s.replica {
				primary, replica = mariadbtopo.Pair(t, mariadbtopo.PairOptions{SemiSync: true})
				procs["mariadbd replica"] = []int{replica.Pid()}
			} else {
				primary = mariadbtopo.Start(t, "primary", mariadbtopo.Options{})
			}
			procs["mariadbd"] = []int{primary.Pid()}
			if err := primary.CreateApp(ctx, harness.AppDatabase, harness.AppUser, harness.AppPassword); err != nil {
				t.Fatal(err)
			}
			redisURL := "off"
			if s.redis {
				var pid int
				redisURL, pid = startOwnRedis(t)
				procs["redis-server"] = []int{pid}
			}
			db := harness.RootPool(t, primary)
			c := harness.StartClusterOn(t, s.instances, primary.Addr, db, redisURL, "-log-level", "warn")
			for _, in := range c.Instances {
				procs["sumd"] = append(procs["sumd"], in.Pid())
			}
			before, busyBefore := readTotal(t, c), machineBusy()
			cpuBefore := cpuTimes(procs)
			out, wrkCPU := runWrk(t, wrk, c, d, 64)
			cpuAfter := cpuTimes(procs)
			cpuBefore["wrk"], cpuAfter["wrk"] = 0, int64(wrkCPU*clockTicks/time.Second)
			busyAfter := machineBusy()
			added := new(big.Int).Sub(readTotal(t, c), before).Int64()
			batches, inBatches := harness.MetricSum(t, c, "idemsum_batch_size_count"), harness.MetricSum(t, c, "idemsum_batch_size_sum")
			var ours int64
			for name := range cpuAfter {
				ours += cpuAfter[name] - cpuBefore[name]
			}
			t.Logf("%s: %d additions in %v (%.0f/s, %.1f per commit), wrk: %s; machine busy %.0f%% of its cores, %.0f%% of that these processes",
				s.name, added, d, float64(added)/d.Seconds(), inBatches/max(batches, 1), out,
				100*(busyAfter.busy-busyBefore.busy)/(busyAfter.all-busyBefore.all), 100*float64(ours)/(busyAfter.busy-busyBefore.busy))
			var sum float64
			for _, name := range []string{"sumd", "mariadbd", "mariadbd replica", "redis-server", "wrk"} {
				if _, ok := cpuBefore[name]; !ok {
					continue
				}
				us := float64(cpuAfter[name]-cpuBefore[name]) * 1e6 / clockTicks / float64(max(added, 1))
				sum += us
				t.Logf("| %s | %s | %.0f µs |", s.name, name, us)
			}
			t.Logf("| %s | all | %.0f µs |", s.name, sum)
		})
	}
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times on Linux.
const clockTicks = 100

// cpuTimes returns the user + system CPU ticks of each group of processes.
func cpuTimes(procs map[string][]int) map[string]int64 {
	ticks := map[string]int64{}
	for name, pids := range procs {
		for _, pid := range pids {
			ticks[name] += procTicks(pid)
		}
	}
	return ticks
}

// procTicks returns utime + stime of pid (fields 14 and 15 of
// /proc/PID/stat), or 0.
func procTicks(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // f[0] is field 3
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st
}

type busy struct{ busy, all float64 }

// machineBusy returns the machine's busy and total CPU ticks (/proc/stat).
func machineBusy() busy {
	b, _ := os.ReadFile("/proc/stat")
	line, _, _ := strings.Cut(string(b), "\n")
	var v busy
	for i, f := range strings.Fields(line)[1:] {
		n, _ := strconv.ParseFloat(f, 64)
		v.all += n
		if i != 3 && i != 4 { // idle, iowait
			v.busy += n
		}
	}
	return v
}

func readTotal(t *testing.T, c *harness.Cluster) *big.Int {
	t.Helper()
	var s string
	if err := c.DB.QueryRow("SELECT total FROM sum_total WHERE id = 1").Scan(&s); err != nil {
		t.Fatal(err)
	}
	n, _ := new(big.Int).SetString(s, 10)
	return n
}

// wrkScript posts number=1 under a key unique to the run (the script's
// argument), thread and request, and prints a JSON summary.
const wrkScript = `
local count = 0
function setup(thread)
  thread:set("tid", count)
  count = count + 1
end
function init(args)
  tag, n = args[1], 0
end
function request()
  n = n + 1
  return wrk.format("POST", "/sum?number=1&key=" .. tag .. "-" .. tid .. "-" .. n)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"non2xx":%d,"socket_errors":%d,"p50_ms":%.1f,"p99_ms":%.1f}\n',
    summary.requests, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
`

// runWrk runs one wrk per instance at once, conns connections in all,
// for d, and returns their summaries and the CPU time they used.
func runWrk(t *testing.T, wrk string, c *harness.Cluster, d time.Duration, conns int) (string, time.Duration) {
	t.Helper()
	script := filepath.Join(t.TempDir(), "sum.lua")
	if err := os.WriteFile(script, []byte(wrkScript), 0o600); err != nil {
		t.Fatal(err)
	}
	run := testenv.Unique()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var outs []string
	var cpu time.Duration
	for i, in := range c.Instances {
		wg.Go(func() {
			cmd := exec.Command(wrk, "-t1", fmt.Sprintf("-c%d", conns/len(c.Instances)), "-d"+d.String(),
				"-s", script, in.URL(), "--", fmt.Sprintf("w%s-%d", run, i))
			out, err := cmd.Output()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("wrk: %v", err)
				return
			}
			cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
			for _, line := range strings.Split(string(out), "\n") {
				if json.Valid([]byte(line)) && line != "" {
					outs = append(outs, line)
				}
			}
		})
	}
	wg.Wait()
	return strings.Join(outs, " "), cpu
}

// startOwnRedis starts a redis-server of the test's own, without
// persistence, that Cleanup kills, and returns its URL and pid.
func startOwnRedis(t *testing.T) (string, int) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed")
	}
	port := freeTCPPort(t)
	cmd := exec.Command(bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	u := fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	rdb := harness.NewRedisClient(t, u)
	if !harness.WaitFor(t.Context(), 10*time.Second, func() bool { return rdb.Ping(t.Context()).Err() == nil }) {
		t.Fatal("redis-server did not answer within 10s")
	}
	return u, cmd.Process.Pid
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
