package e2e_test

import (
	"os"
	"testing"
	"time"

	"github.com/idemsum/idemsum/e2e/harness"
)

// TestBurst sends a burst of distinct keys, once each, to three instances
// as fast as the driver goes, and samples every process's resident memory
// meanwhile: the peak must stay under rssBound. 10,000 keys in the normal
// run; 100,000 with IDEMSUM_BURST=1 and without -short.
func TestBurst(t *testing.T) {
	t.Parallel()
	n := 10_000
	if !testing.Short() && os.Getenv("IDEMSUM_BURST") == "1" {
		n = 100_000
	}
	s := harness.StartScenario(t, harness.Options{Instances: 3, RedisDB: harness.RedisDBBurst})
	s.D.Dup, s.D.Workers = 1, 48
	rss := harness.SampleRSS(s.C)
	start := time.Now()
	s.Run(harness.NewKeys("burst", n), 10*time.Minute)
	took := time.Since(start)
	peaks := rss.Stop()
	t.Logf("%d distinct keys on 3 instances in %v (%.0f keys/s): %s", n, took.Round(time.Millisecond), float64(n)/took.Seconds(), &s.D.Stats)
	harness.CheckRSS(t, peaks, harness.RSSBound)
	s.Check()
}
