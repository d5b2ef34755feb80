package e2e_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/idemsum/idemsum/e2e/harness"
)

// TestChaos mixes every failure while three instances serve one load:
// freezes longer than the lease, kill -9 and restart, and the loss of all
// Redis keys of the test, one at a time, until the load is done.
func TestChaos(t *testing.T) {
	t.Parallel()
	s := harness.StartScenario(t, harness.Options{Instances: 3})
	c := s.C
	s.D.Dup = 3
	done := s.Go(harness.NewKeys("chaos", 2*harness.LoadKeys))
	counts, wiped := map[string]int{}, 0
	pause := func(dur time.Duration) bool {
		select {
		case <-done:
			return false
		case <-time.After(dur):
			return true
		}
	}
	for step := 0; pause(300 * time.Millisecond); step++ {
		in := c.Instances[rand.IntN(len(c.Instances))]
		switch step % 3 {
		case 0:
			in.Stop()
			time.Sleep(harness.LeaseTTL + 500*time.Millisecond) // the freeze itself
			in.Cont()
			counts["SIGSTOP/SIGCONT"]++
		case 1:
			in.Restart()
			counts["SIGKILL+restart"]++
		case 2:
			wiped += harness.WipePrefix(t, c)
			counts["Redis wipe"]++
		}
	}
	t.Logf("%v (%d Redis keys wiped): %s", counts, wiped, s.Summary())
	if len(counts) < 3 {
		t.Errorf("the load ended before every kind of failure happened: %v", counts)
	}
	harness.CheckHealed(t, c, s.Res)
	s.Check()
}
