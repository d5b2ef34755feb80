package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"idemsum/internal/redistopo"
)

// failoverBound is how long a key in flight when a Redis master died may
// take to resolve: its claim is lost or outlives its holder by a lease at
// most, and a client attempt cut off costs a client timeout.
const failoverBound = 3*leaseTTL + clientTimeout

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
	c := StartCluster(t, Options{Instances: 3, RedisURL: topo.URL(), Redis: topo.Client()})
	initial := getTotal(t, c.Instances[0])
	res := newResults()

	perSec := runLoad(t, c, res, "cluster", loadKeys)
	checkSpread(t, c, topo)
	checkAll(t, c, res, initial)
	single := singleRedisRate(t)
	t.Logf("throughput, %d keys × 3 copies on 3 instances: %.0f keys/s on the cluster, %.0f keys/s on one Redis (%.2f×)",
		loadKeys, perSec, single, perSec/single)

	masters, err := topo.Masters(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	victim := masters[0]
	res.Merge(failoverUnderLoad(t, c, "SIGKILL of master "+victim.Addr, func() {
		victim.Kill()
		if err := topo.WaitReady(30 * time.Second); err != nil {
			t.Fatal(err)
		}
	}))
	checkRedisUsed(t, c, res)
	checkAll(t, c, res, initial)
}

// failoverUnderLoad sends loadKeys keys × 3 copies to c and runs fault at
// a quarter of them: a Redis failover that returns once the topology has
// settled. It waits until every instance uses Redis again, checks that no
// key in flight at the fault took longer than failoverBound to resolve,
// logs the timings and returns the results.
func failoverUnderLoad(t *testing.T, c *Cluster, what string, fault func()) *Results {
	t.Helper()
	res := newResults()
	d := newDriver(t, c, res)
	d.Dup = 3
	done := d.Go(newKeys("failover", loadKeys))
	waitFor(t.Context(), time.Minute, func() bool { return d.Progress() >= 0.25 })
	at, start := d.Progress(), time.Now()
	watch := watchRedisUp(t, c, start)
	fault()
	settled := time.Now()
	down, up := watch()
	waitDone(t, done, 60*time.Second)
	degraded := "no instance saw Redis down"
	if !down.IsZero() {
		degraded = fmt.Sprintf("Redis down on an instance %v after the fault began, up again on every instance %v after it",
			down.Sub(start).Round(time.Millisecond), up.Sub(start).Round(time.Millisecond))
	}
	t.Logf("%s at %.0f%% of the keys: the topology settled %v later; %s",
		what, 100*at, settled.Sub(start).Round(time.Millisecond), degraded)
	t.Logf("%d keys × %d copies through the failover: %s", loadKeys, d.Dup, &d.Stats)
	checkNoStuck(t, res, start, failoverBound)
	return res
}

// runLoad sends n keys × 3 copies to c's instances, records them in res
// and returns the keys resolved per second.
func runLoad(t *testing.T, c *Cluster, res *Results, tag string, n int) float64 {
	t.Helper()
	d := newDriver(t, c, res)
	d.Dup = 3
	start := time.Now()
	waitDone(t, d.Go(newKeys(tag, n)), 60*time.Second)
	took := time.Since(start)
	t.Logf("%s: %d keys × %d copies on %d instances in %v: %s", tag, n, d.Dup, len(c.Instances), took.Round(time.Millisecond), &d.Stats)
	return float64(n) / took.Seconds()
}

// singleRedisRate runs the load of runLoad on three instances of their
// own with one Redis of its own, and returns the keys per second.
func singleRedisRate(t *testing.T) float64 {
	t.Helper()
	node := redistopo.StartNode(t)
	c := StartCluster(t, Options{Instances: 3, RedisURL: "redis://" + node.Addr + "/0", Redis: node.Client()})
	initial := getTotal(t, c.Instances[0])
	res := newResults()
	rate := runLoad(t, c, res, "single-redis", loadKeys)
	checkAll(t, c, res, initial)
	for _, in := range c.Instances {
		in.Kill()
	}
	return rate
}

// checkSpread checks that the records of c's keys are on every master of
// topo, under distinct hash tags (one per key).
func checkSpread(t *testing.T, c *Cluster, topo *redistopo.Cluster) {
	t.Helper()
	ctx := t.Context()
	var mu sync.Mutex
	perMaster, tags := map[string]int{}, map[string]bool{}
	err := c.RedisCluster.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		names, err := scanNames(ctx, m, c.Prefix)
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

// watchRedisUp polls idemsum_redis_up on every live instance of c from
// now on, a Redis failover having begun at since. The returned wait, to be
// called once the failover is over, returns when an instance first read 0
// (zero if none did) and when all read 1 at the end, failing t if that
// takes over 30s from since.
func watchRedisUp(t *testing.T, c *Cluster, since time.Time) (wait func() (down, up time.Time)) {
	type result struct {
		down, up time.Time
		err      string
	}
	ch := make(chan result, 1)
	over := make(chan struct{})
	go func() {
		var r result
		var allSince time.Time // since when every instance has read 1
		client := &http.Client{Timeout: clientTimeout}
		for deadline := since.Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			all, now := true, time.Now()
			for _, in := range c.Live() {
				v, err := redisUp(client, in)
				if r.down.IsZero() && err == nil && v == 0 {
					r.down = now
				}
				all = all && err == nil && v == 1
			}
			switch {
			case !all:
				allSince = time.Time{}
			case allSince.IsZero():
				allSince = now
			}
			select {
			case <-over:
				if all {
					r.up = allSince
					ch <- r
					return
				}
			default:
			}
		}
		r.err = "idemsum_redis_up not 1 on every instance within 30s of the failover"
		ch <- r
	}()
	return func() (down, up time.Time) {
		t.Helper()
		close(over)
		r := <-ch
		if r.err != "" {
			t.Fatal(r.err)
		}
		return r.down, r.up
	}
}

// redisUp reads idemsum_redis_up from in's metrics.
func redisUp(client *http.Client, in *Instance) (float64, error) {
	req, _ := http.NewRequest(http.MethodGet, in.URL()+"/metrics", nil)
	resp, err := do(client, req)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(resp.Body), "\n") {
		if v, ok := strings.CutPrefix(line, "idemsum_redis_up "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, fmt.Errorf("%s: no idemsum_redis_up in its metrics", in.Name)
}

// checkRedisUsed sends fresh keys once Redis is back and checks that each
// got its 200 and its record in Redis: the instances use Redis again. The
// keys join res.
func checkRedisUsed(t *testing.T, c *Cluster, res *Results) {
	t.Helper()
	round := newResults()
	d := newDriver(t, c, round)
	keys := newKeys("redis-again", healedKeys)
	waitDone(t, d.Go(keys), 30*time.Second)
	ttls, err := scanTTLs(t.Context(), c.redisClient(), c.Prefix) // on a cluster: every master, as it is now
	if err != nil {
		t.Fatalf("scan Redis: %v", err)
	}
	missing := 0
	for _, k := range keys {
		if _, ok := ttls[c.RecordName(k.Name)]; !ok {
			missing++
		}
	}
	t.Logf("after the failover: %d fresh keys × %d copies: %s; %d without a record in Redis", len(keys), d.Dup, &d.Stats, missing)
	if missing > 0 {
		t.Errorf("%d of %d keys sent after Redis was back have no record in Redis, want all cached", missing, len(keys))
	}
	if n := d.Stats.Unavailable.Load() + d.Stats.Other.Load() + d.Stats.TransportErrs.Load(); n > 0 {
		t.Errorf("after the failover: %d answers neither 200 nor 409, want none", n)
	}
	res.Merge(round)
}
