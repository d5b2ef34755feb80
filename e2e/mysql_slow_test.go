package e2e_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/idemsum/idemsum/e2e/harness"
)

// TestSlowMySQL slows MySQL down step by step until one round trip of a
// batch takes longer than the lease (latency 300, 500 and 800 ms each way
// against a lease of 1s), under load: claims expire while their holders
// still wait for MySQL, and duplicates take the keys over (with
// -redis-claims), or duplicates wait on MySQL behind their first copy
// (without). Every key must still be added exactly once, none may stay
// stuck, and slowness is not unavailability: no 503.
func TestSlowMySQL(t *testing.T) {
	t.Parallel()
	for _, claims := range []bool{false, true} {
		t.Run(fmt.Sprintf("claims=%v", claims), func(t *testing.T) {
			t.Parallel()
			slowMySQL(t, claims)
		})
	}
}

// slowMySQL is TestSlowMySQL with or without -redis-claims. Without
// claims, the duplicates that reach MySQL while the first copy waits
// there are answered by the unique key; with them, claims expire under
// holders waiting on MySQL (lease overruns) and duplicates take over.
func slowMySQL(t *testing.T, claims bool) {
	opts := harness.Options{Instances: 3, MySQLProxy: true}
	if claims {
		opts.Args = []string{"-redis-claims"}
	}
	s := harness.StartScenario(t, opts)
	c, d := s.C, s.D
	d.Workers = 24
	done := s.Go(harness.NewKeys("slowmysql", harness.LoadKeys/2))
	p := c.MySQLProxy
	s.Progress(0.1)
	for _, lat := range []time.Duration{300 * time.Millisecond, 500 * time.Millisecond, 800 * time.Millisecond} {
		p.SetLatency(lat)
		before := d.Resolved.Load()
		time.Sleep(2 * time.Second) // the slow spell
		t.Logf("MySQL latency %v each way for 2s: %d keys resolved meanwhile", lat, d.Resolved.Load()-before)
	}
	healed := time.Now()
	p.Heal()
	harness.WaitDone(t, done, 60*time.Second)
	t.Logf("%v after healing: %s", time.Since(healed).Round(time.Millisecond), s.Summary())
	fence := harness.MetricSum(t, c, "idemsum_fence_replays_total")
	t.Logf("%v keyed additions found already recorded by MySQL's unique key (duplicates that reached MySQL while their first copy waited there)", fence)
	if fence == 0 {
		t.Errorf("no duplicate reached MySQL while its first copy waited there (idemsum_fence_replays_total = 0); MySQL was not slow enough to test anything")
	}
	if claims {
		overruns := harness.MetricSum(t, c, "idemsum_lease_overruns_total")
		t.Logf("%v keyed additions finished after their claim's lease ran out", overruns)
		if overruns == 0 {
			t.Errorf("idemsum_lease_overruns_total = 0, want the holders that waited on MySQL past the lease counted")
		}
	}
	harness.CheckNoStuck(t, s.Res, healed, harness.ResolveBound)
	harness.CheckNoUnavailable(t, c, s.Res)
	harness.CheckHealed(t, c, s.Res)
	s.Check()
}
