package idempotency_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"idemsum/idempotency"
	"idemsum/idempotency/idempotencytest"
)

// asyncStore is a MemStore whose Completes wait in a queue until the test
// lets them go: an AsyncCompleter under the test's control.
type asyncStore struct {
	*idempotencytest.MemStore
	mu      sync.Mutex
	queue   []func()
	failure error
}

func (s *asyncStore) CompleteAsync(key, token string, rec idempotency.Record, ttl time.Duration, done func(error)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = append(s.queue, func() {
		if s.failure != nil {
			done(s.failure)
			return
		}
		ctx := context.Background()
		err := s.Put(ctx, key, rec, ttl)
		if err == nil {
			err = s.Release(ctx, key, token)
		}
		done(err)
	})
}

func (s *asyncStore) flush() {
	s.mu.Lock()
	q := s.queue
	s.queue = nil
	s.mu.Unlock()
	for _, f := range q {
		f()
	}
}

// TestGuardCompletesAfterAnswering: with an AsyncCompleter, Do answers
// before the record is cached; meanwhile a duplicate on the same Guard is
// replayed from memory (not turned away by the claim), one on another
// Guard meets the claim; once the cache write lands both replay it, and a
// failed write is reported as a Store error.
func TestGuardCompletesAfterAnswering(t *testing.T) {
	t.Parallel()
	store := &asyncStore{MemStore: idempotencytest.NewMemStore(nil)}
	var failures []string
	g := &idempotency.Guard{Store: store, Lease: time.Minute, TTL: time.Hour, OnStoreError: func(op string, err error) { failures = append(failures, op) }}
	other := &idempotency.Guard{Store: store, Lease: time.Minute, TTL: time.Hour}
	ctx := t.Context()
	runs := 0
	fn := func(context.Context) (idempotency.Record, bool, error) { runs++; return okRecord, false, nil }

	res, err := g.Do(ctx, "k", "fp", fn)
	wantDo(t, res, err, okRecord, false)
	if _, err := store.Get(ctx, "k"); !errors.Is(err, idempotency.ErrNotFound) {
		t.Fatalf("record cached before the async write: got %v, want %v", err, idempotency.ErrNotFound)
	}
	res, err = g.Do(ctx, "k", "fp", fn)
	wantDo(t, res, err, okRecord, true)
	if _, err := g.Do(ctx, "k", "other", fn); !errors.Is(err, idempotency.ErrMismatch) {
		t.Errorf("another fingerprint while completing: got %v, want %v", err, idempotency.ErrMismatch)
	}
	if _, err := other.Do(ctx, "k", "fp", fn); !errors.Is(err, idempotency.ErrInFlight) {
		t.Errorf("another Guard while completing: got %v, want %v", err, idempotency.ErrInFlight)
	}
	store.flush()
	for _, gd := range []*idempotency.Guard{g, other} {
		res, err = gd.Do(ctx, "k", "fp", fn)
		wantDo(t, res, err, okRecord, true)
	}
	if runs != 1 {
		t.Errorf("fn ran %d times, want 1", runs)
	}

	store.failure = errors.New("redis went away")
	if _, err := g.Do(ctx, "k2", "fp", fn); err != nil {
		t.Fatal(err)
	}
	store.flush()
	if len(failures) != 1 || failures[0] != "complete" {
		t.Errorf("Store errors reported: got %v, want one for complete", failures)
	}
}
