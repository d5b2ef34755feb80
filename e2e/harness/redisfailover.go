package harness

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// failoverBound is how long a key in flight when a Redis master died may
// take to resolve: its claim is lost or outlives its holder by a lease at
// most, and a client attempt cut off costs a client timeout.
const failoverBound = 3*LeaseTTL + ClientTimeout

// FailoverUnderLoad sends LoadKeys keys × 3 copies to c and runs fault at
// a quarter of them: a Redis failover that returns once the topology has
// settled. It waits until every instance uses Redis again, checks that no
// key in flight at the fault took longer than failoverBound to resolve,
// logs the timings and returns the results.
func FailoverUnderLoad(t testing.TB, c *Cluster, what string, fault func()) *Results {
	t.Helper()
	res := NewResults()
	d := NewDriver(t, c, res)
	d.Dup = 3
	done := d.Go(NewKeys("failover", LoadKeys))
	Await(t, time.Minute, "progress to 25% of the keys", func() bool { return d.Progress() >= 0.25 })
	at, start := d.Progress(), time.Now()
	watch := watchRedisUp(t, c, start)
	fault()
	settled := time.Now()
	down, up := watch()
	WaitDone(t, done, 60*time.Second)
	degraded := "no instance saw Redis down"
	if !down.IsZero() {
		degraded = fmt.Sprintf("Redis down on an instance %v after the fault began, up again on every instance %v after it",
			down.Sub(start).Round(time.Millisecond), up.Sub(start).Round(time.Millisecond))
	}
	t.Logf("%s at %.0f%% of the keys: the topology settled %v later; %s",
		what, 100*at, settled.Sub(start).Round(time.Millisecond), degraded)
	t.Logf("%d keys × %d copies through the failover: %s", LoadKeys, d.Dup, &d.Stats)
	CheckNoStuck(t, res, start, failoverBound)
	return res
}

// watchRedisUp polls idemsum_redis_up on every live instance of c from
// now on, a Redis failover having begun at since. The returned wait, to be
// called once the failover is over, returns when an instance first read 0
// (zero if none did) and when all read 1 at the end, failing t if that
// takes over 30s from since.
func watchRedisUp(t testing.TB, c *Cluster, since time.Time) (wait func() (down, up time.Time)) {
	type result struct {
		down, up time.Time
		err      string
	}
	ch := make(chan result, 1)
	over := make(chan struct{})
	go func() {
		var r result
		var allSince time.Time // since when every instance has read 1
		client := &http.Client{Timeout: ClientTimeout}
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
	resp, err := in.Do(client, req)
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

// CheckRedisUsed sends fresh keys once Redis is back and checks that each
// got its 200 and its record in Redis: the instances use Redis again. The
// keys join res.
func CheckRedisUsed(t testing.TB, c *Cluster, res *Results) {
	t.Helper()
	round := NewResults()
	d := NewDriver(t, c, round)
	keys := NewKeys("redis-again", healedKeys)
	WaitDone(t, d.Go(keys), 30*time.Second)
	ttls, err := ScanTTLs(t.Context(), c.RedisClient(), c.Prefix) // on a cluster: every master, as it is now
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
