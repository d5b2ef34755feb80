package idempotency_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idemsum/idemsum/idempotency"
	"github.com/idemsum/idemsum/idempotency/idempotencytest"
)

// missStore is a Store that tells on missed when a Get found no record:
// a request that met a claim in flight (Claim refused) and then found no
// record to replay has seen the key in flight, and DoWait then waits.
type missStore struct {
	idempotency.Store
	missed chan struct{} // buffered; a miss is dropped when it is full
}

// doOutcome is what a Guard's Do or DoWait returned.
type doOutcome struct {
	res idempotency.Result
	err error
}

func newMissStore() *missStore {
	return &missStore{Store: idempotencytest.NewMemStore(time.Now), missed: make(chan struct{}, 64)}
}

func (s *missStore) Get(ctx context.Context, key string) (idempotency.Record, error) {
	rec, err := s.Store.Get(ctx, key)
	if errors.Is(err, idempotency.ErrNotFound) {
		select {
		case s.missed <- struct{}{}:
		default:
		}
	}
	return rec, err
}

// TestDoWaitReplaysTheOriginal: a duplicate that finds the key in flight
// waits (Result.Waited) and replays the original's record once it is
// stored, without running fn. The original finishes only after the
// duplicate has surely seen the key in flight.
func TestDoWaitReplaysTheOriginal(t *testing.T) {
	t.Parallel()
	s := newMissStore()
	g := &idempotency.Guard{Store: s, Lease: time.Minute, TTL: time.Hour}
	ctx := context.Background()
	started, finish := make(chan struct{}), make(chan struct{})
	done := make(chan doOutcome, 1)
	go func() {
		res, err := g.Do(ctx, "k", "fp", func(context.Context) (idempotency.Record, bool, error) {
			close(started)
			<-finish
			return idempotency.Record{Fingerprint: "fp", Status: 200, Body: []byte("first")}, false, nil
		})
		done <- doOutcome{res, err}
	}()
	<-started
	noRun := func(context.Context) (idempotency.Record, bool, error) {
		t.Error("the duplicate without wait ran fn")
		return idempotency.Record{}, false, errors.New("ran")
	}
	if _, err := g.Do(ctx, "k", "fp", noRun); !errors.Is(err, idempotency.ErrInFlight) {
		close(finish)
		t.Fatalf("duplicate without wait: got %v, want ErrInFlight", err)
	}
	select {
	case <-s.missed: // the duplicate without wait's look-up, told before it returned
	default:
	}
	var dupRan atomic.Bool
	waiter := make(chan doOutcome, 1)
	go func() {
		res, err := g.DoWait(ctx, "k", "fp", time.Minute, func(context.Context) (idempotency.Record, bool, error) {
			dupRan.Store(true)
			return idempotency.Record{Fingerprint: "fp", Status: 200, Body: []byte("second")}, false, nil
		})
		waiter <- doOutcome{res, err}
	}()
	var dup doOutcome
	select {
	case <-s.missed: // the waiter has met the claim and found no record: it waits
		close(finish)
		dup = <-waiter
	case dup = <-waiter: // it returned without looking: checked below
		close(finish)
	}
	orig := <-done
	if orig.err != nil || string(orig.res.Body) != "first" || orig.res.Replayed {
		t.Fatalf("original: got %+v, %v; want its own record", orig.res, orig.err)
	}
	if dup.err != nil {
		t.Fatalf("waiter: got %v, want the original's record", dup.err)
	}
	if !dup.res.Waited || !dup.res.Replayed || string(dup.res.Body) != "first" {
		t.Errorf("waiter: got waited=%v replayed=%v body %q, want waited, replayed %q", dup.res.Waited, dup.res.Replayed, dup.res.Body, "first")
	}
	if dupRan.Load() {
		t.Errorf("the waiting duplicate ran fn, want the original's record replayed")
	}
}

func TestDoWaitGivesUpAfterWait(t *testing.T) {
	t.Parallel()
	s := idempotencytest.NewMemStore(time.Now)
	g := &idempotency.Guard{Store: s, Lease: time.Minute, TTL: time.Hour}
	if _, err := s.Claim(context.Background(), "k", time.Minute); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := g.DoWait(context.Background(), "k", "fp", 100*time.Millisecond, nil)
	if !errors.Is(err, idempotency.ErrInFlight) {
		t.Fatalf("got %v, want ErrInFlight", err)
	}
	if !res.Waited || time.Since(start) < 60*time.Millisecond {
		t.Errorf("waited=%v after %v, want a wait of about 100ms", res.Waited, time.Since(start))
	}
}

// TestDoWaitTakesOverAReleasedClaim: a duplicate waiting on a claim whose
// holder gave up without a record (released it) takes the key over and
// runs fn itself (Result.Waited, not Replayed). The claim is released only
// after the waiter has surely seen it in flight.
func TestDoWaitTakesOverAReleasedClaim(t *testing.T) {
	t.Parallel()
	s := newMissStore()
	g := &idempotency.Guard{Store: s, Lease: time.Minute, TTL: time.Hour}
	ctx := context.Background()
	token, err := s.Claim(ctx, "k", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var runs atomic.Int32
	done := make(chan doOutcome, 1)
	go func() {
		res, err := g.DoWait(ctx, "k", "fp", time.Minute, func(context.Context) (idempotency.Record, bool, error) {
			runs.Add(1)
			return idempotency.Record{Fingerprint: "fp", Status: 200, Body: []byte("taken over")}, false, nil
		})
		done <- doOutcome{res, err}
	}()
	var o doOutcome
	select {
	case <-s.missed: // the waiter has met the claim and found no record: it waits
		if err := s.Release(ctx, "k", token); err != nil { // the holder failed without a record
			t.Fatal(err)
		}
		o = <-done
	case o = <-done: // it returned without looking: checked below
	}
	if o.err != nil {
		t.Fatalf("got %v, want the waiter to take the key over", o.err)
	}
	if !o.res.Waited || o.res.Replayed || string(o.res.Body) != "taken over" || runs.Load() != 1 {
		t.Errorf("waiter: got waited=%v replayed=%v body %q after %d runs of fn, want waited, not replayed, %q after 1 run",
			o.res.Waited, o.res.Replayed, o.res.Body, runs.Load(), "taken over")
	}
	if rec, err := s.Get(ctx, "k"); err != nil || string(rec.Body) != "taken over" {
		t.Errorf("stored: got %q, %v; want the waiter's record", rec.Body, err)
	}
}
