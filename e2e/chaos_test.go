package e2e_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"
)

// TestChaos mixes every failure while three instances serve one load:
// freezes longer than the lease, kill -9 and restart, and the loss of all
// Redis keys of the test, one at a time, until the load is done.
func TestChaos(t *testing.T) {
	t.Parallel()
	s := startScenario(t, Options{Instances: 3})
	c := s.c
	s.d.Dup = 3
	done := s.send(newKeys("chaos", 2*loadKeys))
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
			time.Sleep(leaseTTL + 500*time.Millisecond) // the freeze itself
			in.Cont()
			counts["SIGSTOP/SIGCONT"]++
		case 1:
			in.Restart()
			counts["SIGKILL+restart"]++
		case 2:
			wiped += wipePrefix(t, c)
			counts["Redis wipe"]++
		}
	}
	t.Logf("%v (%d Redis keys wiped): %s", counts, wiped, s.summary())
	if len(counts) < 3 {
		t.Errorf("the load ended before every kind of failure happened: %v", counts)
	}
	checkHealed(t, c, s.res)
	s.check()
}

// wipePrefix deletes every Redis key under c's prefix, as a FLUSHDB would
// for this test alone, and returns how many it deleted.
func wipePrefix(t testing.TB, c *Cluster) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	n := 0
	var batch []string
	flush := func() {
		if len(batch) > 0 {
			c.Redis.Unlink(ctx, batch...)
			n += len(batch)
			batch = batch[:0]
		}
	}
	iter := c.Redis.Scan(ctx, 0, c.Prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		if batch = append(batch, iter.Val()); len(batch) == 500 {
			flush()
		}
	}
	flush()
	if err := iter.Err(); err != nil {
		t.Fatalf("wipe %s*: %v", c.Prefix, err)
	}
	return n
}
