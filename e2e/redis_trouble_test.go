package e2e_test

import (
	"testing"
	"time"

	"github.com/idemsum/idemsum/e2e/harness"
)

// TestRedisTrouble runs the load through a proxy to Redis that restarts
// empty (connections cut and refused, every key of the test lost), stalls
// longer than the instances' Redis timeouts, and cuts connections. Redis
// is a cache: nothing may fail with 503 and nothing may be added twice.
func TestRedisTrouble(t *testing.T) {
	t.Parallel()
	s := harness.StartScenario(t, harness.Options{Instances: 3, RedisProxy: true})
	d := s.D
	d.Dup = 3
	done := s.Go(harness.NewKeys("redistrouble", 2*harness.LoadKeys))
	p := s.C.RedisProxy

	s.Progress(0.2)
	p.Refuse(true)
	p.CutAll()
	wiped := harness.WipePrefix(t, s.C)
	harness.CheckReady(t, s.C, "down")
	time.Sleep(500 * time.Millisecond) // Redis stays down this long
	p.Refuse(false)
	t.Logf("Redis restarted empty at %.0f%% (%d keys lost)", 100*d.Progress(), wiped)

	s.Progress(0.45)
	p.Blackhole(true)
	time.Sleep(1500 * time.Millisecond) // the stall itself
	p.Heal()
	t.Logf("Redis stalled for 1.5s until %.0f%%", 100*d.Progress())

	s.Progress(0.7)
	for range 10 {
		p.CutAll()
		time.Sleep(50 * time.Millisecond) // the pace of the cuts
	}
	t.Logf("10 cuts of every Redis connection until %.0f%%", 100*d.Progress())

	harness.WaitDone(t, done, 90*time.Second)
	t.Log(s.Summary())
	harness.CheckHealed(t, s.C, s.Res)
	s.Check()
}
