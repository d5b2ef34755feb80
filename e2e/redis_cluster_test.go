package e2e_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idemsum/idemsum/e2e/harness"
	"github.com/idemsum/idemsum/internal/redistopo"
)

// TestRedisCluster runs three instances on a Redis Cluster of 3 masters
// with a replica each (-redis-url in go-redis's cluster form): 1,000 keys
// × 3 concurrent duplicates, with every invariant checked and the keys
// spread over every master; then 1,000 more while a master is SIGKILLed
// and its replica takes over: still exact, no 5xx, no key stuck past a
// few leases, and Redis used again by every instance once the cluster has
// settled, without a restart. For comparison, the same load runs against
// three instances on one Redis of its own, in the same run.
//
// Not parallel, like TestRedisSentinel: its 6 Redis servers and 3 to 6
// instances under load would starve the timing of tests running beside it
// on 2 cores (and they its failover timings); it runs alone, before them.
func TestRedisCluster(t *testing.T) {
	topo := redistopo.StartCluster(t, 3, 1)
	c := harness.StartCluster(t, harness.Options{Instances: 3, RedisURL: topo.URL(), Redis: topo.Client()})
	initial := harness.GetTotal(t, c.Instances[0])
	res := harness.NewResults()

	perSec := runLoad(t, c, res, "cluster", harness.LoadKeys)
	checkSpread(t, c, topo)
	harness.CheckAll(t, c, res, initial)
	single := singleRedisRate(t)
	t.Logf("throughput, %d keys × 3 copies on 3 instances: %.0f keys/s on the cluster, %.0f keys/s on one Redis (%.2f×)",
		harness.LoadKeys, perSec, single, perSec/single)

	masters, err := topo.Masters(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	victim := masters[0]
	res.Merge(harness.FailoverUnderLoad(t, c, "SIGKILL of master "+victim.Addr, func() {
		victim.Kill()
		if err := topo.WaitReady(30 * time.Second); err != nil {
			t.Fatal(err)
		}
	}))
	harness.CheckRedisUsed(t, c, res)
	harness.CheckAll(t, c, res, initial)
}

// runLoad sends n keys × 3 copies to c's instances, records them in res
// and returns the keys resolved per second.
func runLoad(t *testing.T, c *harness.Cluster, res *harness.Results, tag string, n int) float64 {
	t.Helper()
	d := harness.NewDriver(t, c, res)
	d.Dup = 3
	start := time.Now()
	harness.WaitDone(t, d.Go(harness.NewKeys(tag, n)), 60*time.Second)
	took := time.Since(start)
	t.Logf("%s: %d keys × %d copies on %d instances in %v: %s", tag, n, d.Dup, len(c.Instances), took.Round(time.Millisecond), &d.Stats)
	return float64(n) / took.Seconds()
}

// singleRedisRate runs the load of runLoad on three instances of their
// own with one Redis of its own, and returns the keys per second.
func singleRedisRate(t *testing.T) float64 {
	t.Helper()
	node := redistopo.StartNode(t)
	c := harness.StartCluster(t, harness.Options{Instances: 3, RedisURL: "redis://" + node.Addr + "/0", Redis: node.Client()})
	initial := harness.GetTotal(t, c.Instances[0])
	res := harness.NewResults()
	rate := runLoad(t, c, res, "single-redis", harness.LoadKeys)
	harness.CheckAll(t, c, res, initial)
	for _, in := range c.Instances {
		in.Kill()
	}
	return rate
}

// checkSpread checks that the records of c's keys are on every master of
// topo, under distinct hash tags (one per key).
func checkSpread(t *testing.T, c *harness.Cluster, topo *redistopo.Cluster) {
	t.Helper()
	ctx := t.Context()
	var mu sync.Mutex
	perMaster, tags := map[string]int{}, map[string]bool{}
	err := c.RedisCluster.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		names, err := harness.ScanNames(ctx, m, c.Prefix)
		mu.Lock()
		defer mu.Unlock()
		for _, n := range names {
			if n.Kind == "rec" {
				perMaster[m.Options().Addr]++
				tags[n.NS[strings.LastIndex(n.NS, "{"):]] = true
			}
		}
		return err
	})
	if err != nil {
		t.Fatalf("scan the masters: %v", err)
	}
	masters, _ := topo.Masters(ctx)
	total := 0
	for _, n := range perMaster {
		total += n
	}
	t.Logf("%d records under %d hash tags; per master: %v", total, len(tags), perMaster)
	if len(perMaster) != len(masters) {
		t.Errorf("records on %d masters, want on all %d", len(perMaster), len(masters))
	}
	for addr, n := range perMaster {
		if n < total/10 {
			t.Errorf("master %s holds %d of %d records, want them spread over the masters", addr, n, total)
		}
	}
	if len(tags) != total {
		t.Errorf("%d records under %d hash tags, want one tag per key", total, len(tags))
	}
}
