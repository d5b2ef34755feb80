package e2e_test

import (
	"context"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/idemsum/idemsum/e2e/harness"
	"github.com/idemsum/idemsum/internal/mariadbtopo"
)

// semiSyncLinks are the distances of the semi-synchronous replica that
// testSemiSyncThroughSumd measures, one way.
var semiSyncLinks = []struct {
	name    string
	latency time.Duration
}{
	{"same host", 0},
	{"1ms away", time.Millisecond},
	{"20ms away", 20 * time.Millisecond},
}

// testSemiSyncThroughSumd measures additions per second through sumd end
// to end (wrk, unique keys, one instance with Redis) against a primary
// whose semi-synchronous replica is on the same host, 1 ms and 20 ms away,
// with enough connections (IDEMSUM_SCALING_CONNS, 1,024 by default) to
// fill the batches a slow commit allows; each distance with group commit's
// adaptation on (the default) and off (-batch-fixed: at most -batch-max
// per commit), and with the flags IDEMSUM_SCALING_ARGS gives, if any. The
// figure of docs/scaling.md is the 20 ms rate over the same-host rate.
func testSemiSyncThroughSumd(t *testing.T) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Skip("wrk is not installed (apt-get install -y wrk)")
	}
	const d = 10 * time.Second
	conns := 1024
	if v := os.Getenv("IDEMSUM_SCALING_CONNS"); v != "" {
		if _, err := fmt.Sscan(v, &conns); err != nil {
			t.Fatalf("IDEMSUM_SCALING_CONNS=%q: %v", v, err)
		}
	}
	rates := map[string]float64{}
	modes := []struct {
		name string
		args []string
	}{{"adaptive", nil}, {"fixed", []string{"-batch-fixed"}}}
	if v := os.Getenv("IDEMSUM_SCALING_ARGS"); v != "" { // a third set-up to compare, e.g. "-batch-flushers 2"
		modes = append(modes, struct {
			name string
			args []string
		}{v, strings.Fields(v)})
	}
	for _, link := range semiSyncLinks {
		for _, m := range modes {
			t.Run(link.name+"/"+m.name, func(t *testing.T) {
				rates[link.name+"/"+m.name] = semiSyncRate(t, wrk, link.latency, m.args, conns, d)
			})
		}
	}
	for _, m := range modes {
		same, far := rates["same host/"+m.name], rates["20ms away/"+m.name]
		if same > 0 {
			t.Logf("%s: 20 ms away %.0f/s is %.0f%% of same host %.0f/s", m.name, far, 100*far/same, same)
		}
	}
}

// semiSyncRate starts a semi-synchronous pair with the replica latency
// away, one sumd with args and a Redis of its own, drives it with wrk for
// d and returns the additions per second (from the total, which counts
// them: every request adds 1).
func semiSyncRate(t *testing.T, wrk string, latency time.Duration, args []string, conns int, d time.Duration) float64 {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	primary, _ := mariadbtopo.Pair(t, mariadbtopo.PairOptions{SemiSync: true, Link: func(addr string) string {
		p := harness.StartProxy(t, addr)
		p.SetDistance(latency) // far, not slow: chunks travel together
		return p.Addr()
	}})
	if err := primary.CreateApp(ctx, harness.AppDatabase, harness.AppUser, harness.AppPassword); err != nil {
		t.Fatal(err)
	}
	redisURL, _ := startOwnRedis(t)
	db := harness.RootPool(t, primary)
	c := harness.StartClusterOn(t, 1, primary.Addr, db, redisURL, append([]string{"-log-level", "warn"}, args...)...)
	before := readTotal(t, c)
	out, _ := runWrk(t, wrk, c, d, conns)
	added := new(big.Int).Sub(readTotal(t, c), before).Int64()
	batches, inBatches := harness.MetricSum(t, c, "idemsum_batch_size_count"), harness.MetricSum(t, c, "idemsum_batch_size_sum")
	rate := float64(added) / d.Seconds()
	t.Logf("| %v | %v | %d | %.0f | %.1f | %s |", latency, args, conns, rate, inBatches/max(batches, 1), out)
	return rate
}
