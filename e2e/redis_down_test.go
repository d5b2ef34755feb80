package e2e_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"idemsum/e2e/harness"
)

// degradedBound is how long a keyed addition may take while Redis
// refuses connections: the instances give up on Redis within their dial
// timeout (250ms) and then bypass it for a second, so an addition costs
// at most one failed dial plus its MySQL transaction.
const degradedBound = time.Second

// TestRedisDownFailsFast sends waves of concurrent additions to an
// instance whose Redis refuses every connection, for a few seconds (the
// instance probes Redis again after each second of bypass): every answer
// must be a 200 within degradedBound, not a client timeout.
//
// It guards cmd/sumd's go-redis options: with go-redis's default of five
// dials per attempt (100ms apart), each probe of a Redis that refuses
// connections held its requests for ~1.7s.
func TestRedisDownFailsFast(t *testing.T) {
	t.Parallel()
	c := harness.StartCluster(t, harness.Options{Instances: 1, RedisURL: "redis://" + harness.ClosedPort(t) + "/0"})
	in := c.Instances[0]
	initial := harness.GetTotal(t, in)
	res := harness.NewResults()
	client := &http.Client{Timeout: 10 * time.Second}
	var mu sync.Mutex
	var slowest time.Duration
	slow := 0
	waves := time.NewTicker(100 * time.Millisecond) // the pace of the waves
	defer waves.Stop()
	for end := time.Now().Add(4 * time.Second); time.Now().Before(end); <-waves.C {
		var wg sync.WaitGroup
		for _, k := range harness.NewKeys("redisdown", 16) {
			wg.Go(func() {
				t0 := time.Now()
				resp, err := harness.SendOne(t.Context(), client, in, k)
				took := time.Since(t0)
				if err != nil {
					t.Errorf("key %s: %v after %v", k.Name, err, took)
					return
				}
				harness.Want200(t, res, k, 0, "an addition while Redis refuses connections", resp, false)
				mu.Lock()
				defer mu.Unlock()
				slowest = max(slowest, took)
				if took > degradedBound {
					slow++
				}
			})
		}
		wg.Wait()
	}
	t.Logf("%d additions while Redis refuses connections: %d took over %v, the slowest %v", res.Len(), slow, degradedBound, slowest.Round(time.Millisecond))
	if slow > 0 {
		t.Errorf("%d of %d additions took over %v (the slowest %v), want each within %v while Redis refuses connections", slow, res.Len(), degradedBound, slowest.Round(time.Millisecond), degradedBound)
	}
	harness.CheckAll(t, c, res, initial)
}

func TestRedisUnreachable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, redisURL, ready string
	}{
		{"dead port", "", "down"},
		{"off", "off", "disabled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url := tt.redisURL
			if url == "" {
				url = "redis://" + harness.ClosedPort(t) + "/0"
			}
			s := harness.StartScenario(t, harness.Options{Instances: 3, RedisURL: url})
			harness.CheckReady(t, s.C, tt.ready)
			// Without claims, duplicates meet in MySQL only: three copies of
			// each key from many workers make them meet often.
			s.D.Dup, s.D.Workers = 3, 32
			done := s.Go(harness.NewKeys("noredis", harness.LoadKeys))
			harness.WaitFor(t.Context(), time.Minute, func() bool { return s.D.Progress() >= 0.5 })
			harness.CheckReady(t, s.C, tt.ready) // mid-run, under load
			harness.WaitDone(t, done, 90*time.Second)
			t.Logf("redis %s: %s", url, s.Summary())
			s.Check()
		})
	}
}
