package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idemsum/idemsum/client"
	"github.com/idemsum/idemsum/e2e/harness"
)

// clientKeys is how many keys TestClientUnderFaults adds, each from two
// goroutines at once.
const clientKeys = 1500

// TestClientUnderFaults adds keys through the client package, each key
// from two goroutines at once (one of them with Prefer: wait), while the
// instances are killed (SIGKILL) and restarted one at a time and Redis is
// flushed, and checks every invariant: the client must hide every fault
// and still add each key exactly once.
func TestClientUnderFaults(t *testing.T) {
	t.Parallel()
	c := harness.StartCluster(t, harness.Options{Instances: 3, RedisDB: harness.RedisDBClient})
	initial := harness.GetTotal(t, c.Instances[0])
	cl := harness.ClientOf(t, c)
	res := harness.NewResults()
	keys := harness.NewKeys("client", clientKeys)
	var attempts, retried, replayed, failed atomic.Int64
	work := make(chan harness.Key)
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for k := range work {
				opts := []client.AddOption{client.WithKey(k.Name)}
				if w%2 == 1 {
					opts = append(opts, client.WithWait(2*time.Second))
				}
				sent := time.Now()
				// net/http itself resends a request with an Idempotency-Key
				// on a reused connection that died (Request.isReplayable),
				// unseen by the client: count what was written.
				var writes atomic.Int32
				ctx := httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{WroteHeaders: func() { writes.Add(1) }})
				ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
				r, err := cl.Add(ctx, k.Number, opts...)
				cancel()
				attempts.Add(int64(r.Attempts))
				if err != nil {
					failed.Add(1)
					t.Errorf("key %s: Add after %d attempts: %v", k.Name, r.Attempts, err)
					continue
				}
				resp := &harness.Response{Status: http.StatusOK, Body: []byte(fmt.Sprintf("{\"total\":%v}\n", r.Total)), Replayed: r.Replayed}
				if r.Replayed {
					replayed.Add(1)
				}
				if r.Attempts > 1 || writes.Load() > 1 { // an earlier attempt may have added unseen
					retried.Add(1)
					res.RecordUnseen(k, 0, sent, resp)
				} else {
					res.Record(k, 0, resp)
				}
			}
		})
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, k := range keys {
			work <- k // each key twice, to two goroutines at once
			work <- k
		}
		close(work)
		wg.Wait()
	}()
	kills, flushes := faultLoop(t, c, done)
	t.Logf("%d keys × 2 copies through the client: %d attempts, %d calls retried, %d replayed, %d failed; %d kills, %d FLUSHDB",
		len(keys), attempts.Load(), retried.Load(), replayed.Load(), failed.Load(), kills, flushes)
	if kills < 2 || flushes < 2 {
		t.Errorf("got %d kills and %d flushes before the load ended, want at least 2 of each", kills, flushes)
	}
	total, err := cl.Total(t.Context())
	if want := harness.GetTotal(t, c.Instances[0]); err != nil || total.Cmp(want) != 0 {
		t.Errorf("client Total: got %v, %v; want %v", total, err, want)
	}
	harness.CheckAll(t, c, res, initial)
}

// faultLoop kills and restarts an instance and flushes Redis in turn
// until done is closed, and returns how many of each it did.
func faultLoop(t testing.TB, c *harness.Cluster, done <-chan struct{}) (kills, flushes int) {
	t.Helper()
	for step := 0; ; step++ {
		select {
		case <-done:
			return kills, flushes
		case <-time.After(250 * time.Millisecond):
		}
		if step%2 == 0 {
			c.Instances[(step/2)%len(c.Instances)].Restart()
			kills++
			continue
		}
		c.FlushRedis(t)
		flushes++
	}
}
