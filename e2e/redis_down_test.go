package e2e_test

import (
	"net/http"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/idemsum/idemsum/e2e/harness"
)

// excessBound is how much longer than a MySQL-only twin's an addition may
// take while Redis refuses connections: the instance gives up on Redis
// within one refused dial (milliseconds) and then bypasses it for a
// second, so its additions cost what the twin's cost. It is not a latency
// wish but half the cost of the regression it guards against: with
// go-redis's default retries each probe held its requests 1.2s longer
// (1.21s measured), while two processes on one loaded machine answer the
// same wave within a few tens of milliseconds of each other.
const excessBound = 500 * time.Millisecond

// TestRedisDownFailsFast sends waves of concurrent additions, for a few
// seconds, to an instance whose Redis refuses every connection (it probes
// Redis again after each second of bypass) and, in the same waves, to a
// MySQL-only twin: every answer must be a 200, and no wave may take the
// first instance excessBound longer than its twin. The twin measures the
// machine as it is during the wave, so that a loaded machine slows both.
//
// It guards cmd/sumd's go-redis options (MaxRetries -1, DialerRetries 1):
// with go-redis's default dials and retries, each probe of a Redis that
// refuses connections held its requests for over a second.
func TestRedisDownFailsFast(t *testing.T) {
	t.Parallel()
	const down, twin = 0, 1
	c := harness.StartCluster(t, harness.Options{Instances: 2, RedisURL: "redis://" + harness.ClosedPort(t) + "/0",
		InstanceArgs: map[int][]string{twin: {"-redis-url", "off"}}})
	initial := harness.GetTotal(t, c.Instances[0])
	res := harness.NewResults()
	client := &http.Client{Timeout: 10 * time.Second}
	var excess []time.Duration                      // of each wave
	waves := time.NewTicker(100 * time.Millisecond) // the pace of the waves
	defer waves.Stop()
	for end := time.Now().Add(4 * time.Second); time.Now().Before(end); <-waves.C {
		var mu sync.Mutex
		var slowest [2]time.Duration // by instance
		var wg sync.WaitGroup
		for i, k := range harness.NewKeys("redisdown", 32) {
			inst := i % 2
			wg.Go(func() {
				t0 := time.Now()
				resp, err := harness.SendOne(t.Context(), client, c.Instances[inst], k)
				took := time.Since(t0)
				if err != nil {
					t.Errorf("key %s on sumd%d: %v after %v", k.Name, inst, err, took)
					return
				}
				harness.Want200(t, res, k, inst, "an addition while Redis refuses connections", resp, false)
				mu.Lock()
				slowest[inst] = max(slowest[inst], took)
				mu.Unlock()
			})
		}
		wg.Wait()
		excess = append(excess, slowest[down]-slowest[twin])
	}
	slices.Sort(excess)
	worst := excess[len(excess)-1]
	t.Logf("%d additions in %d waves while sumd%d's Redis refuses connections: its slowest answer of a wave minus its MySQL-only twin's: median %v, worst %v",
		res.Len(), len(excess), down, excess[len(excess)/2].Round(time.Millisecond), worst.Round(time.Millisecond))
	if worst > excessBound {
		n := len(excess) - sort.Search(len(excess), func(i int) bool { return excess[i] > excessBound })
		t.Errorf("in %d of %d waves sumd%d (Redis refusing connections) answered over %v later than its MySQL-only twin (worst %v), want within %v",
			n, len(excess), down, excessBound, worst.Round(time.Millisecond), excessBound)
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
			harness.Await(t, time.Minute, "progress to half the keys", func() bool { return s.D.Progress() >= 0.5 })
			at := s.D.Progress()
			harness.CheckReady(t, s.C, tt.ready) // mid-run, under load
			if at >= 1 {
				t.Errorf("the load was over before /readyz was checked mid-run: it checked nothing under load")
			}
			harness.WaitDone(t, done, 90*time.Second)
			t.Logf("redis %s: %s", url, s.Summary())
			s.Check()
		})
	}
}
