package idempotency_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/idemsum/idemsum/idempotency"
	"github.com/idemsum/idemsum/idempotency/idempotencytest"
)

// fence is a Func's own fence, as a unique key in a database is: the
// first run for a key records its effect; a run that meets a key in flight
// waits for it (as an insert waits on the first's row lock) and returns
// its record as existing. Records carry the fingerprint "fp".
type fence struct {
	mu      sync.Mutex
	done    map[string]idempotency.Record
	effects int
}

func (f *fence) fn(key string, n int) idempotency.Func {
	return func(context.Context) (idempotency.Record, bool, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if rec, ok := f.done[key]; ok {
			return rec, true, nil
		}
		f.effects++
		rec := idempotency.Record{Fingerprint: "fp", Status: 200, ContentType: "text/plain", Body: fmt.Appendf(nil, "effect %d", n)}
		f.done[key] = rec
		return rec, false, nil
	}
}

// callLog is a Store that records which methods were called.
type callLog struct {
	idempotency.Store
	mu    sync.Mutex
	calls []string
}

func (c *callLog) log(op string) { c.mu.Lock(); c.calls = append(c.calls, op); c.mu.Unlock() }
func (c *callLog) Get(ctx context.Context, key string) (idempotency.Record, error) {
	c.log("get")
	return c.Store.Get(ctx, key)
}
func (c *callLog) Claim(ctx context.Context, key string, lease time.Duration) (string, error) {
	c.log("claim")
	return c.Store.Claim(ctx, key, lease)
}
func (c *callLog) Put(ctx context.Context, key string, rec idempotency.Record, ttl time.Duration) error {
	c.log("put")
	return c.Store.Put(ctx, key, rec, ttl)
}

// TestFencedGuardTakesNoClaims: with Fenced, a fresh key costs one Get
// and one Put, never a claim; a duplicate is replayed from the Store
// without running fn.
func TestFencedGuardTakesNoClaims(t *testing.T) {
	t.Parallel()
	store := &callLog{Store: idempotencytest.NewMemStore(nil)}
	g := &idempotency.Guard{Store: store, Fenced: true}
	f := &fence{done: map[string]idempotency.Record{}}
	res, err := g.Do(context.Background(), "k", "fp", f.fn("k", 1))
	if err != nil || res.Replayed || string(res.Body) != "effect 1" {
		t.Fatalf("first: got %+v, %v; want effect 1, not replayed", res, err)
	}
	res, err = g.Do(context.Background(), "k", "fp", f.fn("k", 2))
	if err != nil || !res.Replayed || string(res.Body) != "effect 1" {
		t.Fatalf("again: got %+v, %v; want the replay of effect 1", res, err)
	}
	if _, err := g.Do(context.Background(), "k", "other", f.fn("k", 3)); err != idempotency.ErrMismatch {
		t.Errorf("another fingerprint: got %v, want ErrMismatch", err)
	}
	want := []string{"get", "put", "get", "get"}
	if fmt.Sprint(store.calls) != fmt.Sprint(want) {
		t.Errorf("store calls: got %v, want %v", store.calls, want)
	}
	if f.effects != 1 {
		t.Errorf("effects: got %d, want 1", f.effects)
	}
}

// TestFencedGuardConcurrentDuplicates: duplicates that all miss the Store
// at once all reach fn; its fence makes one effect, and every caller gets
// that effect's record (one fresh, the others replays), not ErrInFlight.
func TestFencedGuardConcurrentDuplicates(t *testing.T) {
	t.Parallel()
	const callers = 16
	miss := make(chan struct{})
	var arrived sync.WaitGroup
	arrived.Add(callers)
	mem := idempotencytest.NewMemStore(nil)
	store := funcStore{
		get: func(ctx context.Context, key string) (idempotency.Record, error) {
			arrived.Done()
			<-miss // every caller has looked the key up before any runs fn
			return idempotency.Record{}, idempotency.ErrNotFound
		},
		put: mem.Put,
	}
	g := &idempotency.Guard{Store: store, Fenced: true}
	f := &fence{done: map[string]idempotency.Record{}}
	results := make([]idempotency.Result, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { results[i], errs[i] = g.Do(context.Background(), "k", "fp", f.fn("k", i)) })
	}
	arrived.Wait()
	close(miss)
	wg.Wait()
	fresh := 0
	for i := range callers {
		if errs[i] != nil {
			t.Fatalf("caller %d: got %v, want the record", i, errs[i])
		}
		if !results[i].Replayed {
			fresh++
		}
		if string(results[i].Body) != string(results[0].Body) {
			t.Errorf("caller %d: got %q, want %q (one effect)", i, results[i].Body, results[0].Body)
		}
	}
	if f.effects != 1 || fresh != 1 {
		t.Errorf("effects %d, fresh answers %d: want 1 and 1", f.effects, fresh)
	}
	if rec, err := mem.Get(context.Background(), "k"); err != nil || string(rec.Body) != string(results[0].Body) {
		t.Errorf("cached: got %q, %v; want the effect's record", rec.Body, err)
	}
}
