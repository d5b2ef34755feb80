package e2e_test

import (
	"testing"
	"time"

	"github.com/idemsum/idemsum/e2e/harness"
)

func TestRedisFlushedMidRun(t *testing.T) {
	t.Parallel()
	// This database is the test's alone: FLUSHDB wipes all of it.
	s := harness.StartScenario(t, harness.Options{Instances: 3, RedisDB: harness.RedisDBFlush})
	c := s.C
	done := s.Go(harness.NewKeys("flush", harness.LoadKeys))
	flushes, wiped := 0, int64(0)
	for loop := true; loop; {
		select {
		case <-done:
			loop = false
		case <-time.After(50 * time.Millisecond):
			n, err := c.Redis.DBSize(t.Context()).Result()
			if err != nil {
				t.Fatalf("DBSIZE: %v", err)
			}
			c.FlushRedis(t)
			flushes, wiped = flushes+1, wiped+n
		}
	}
	t.Logf("%d FLUSHDB wiping %d Redis keys: %s", flushes, wiped, s.Summary())
	if flushes < 3 || wiped == 0 {
		t.Errorf("got %d flushes wiping %d keys, want at least 3 flushes mid-run that wiped claims or records", flushes, wiped)
	}
	harness.CheckHealed(t, c, s.Res)
	s.Check()
}
