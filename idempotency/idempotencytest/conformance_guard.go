package idempotencytest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/idemsum/idemsum/idempotency"
)

func guardTests() []storeTest {
	return []storeTest{
		{name: "GuardReplay", run: testGuardReplay},
		{name: "GuardMismatch", run: testGuardMismatch},
		{name: "GuardInFlight", run: testGuardInFlight},
		{name: "GuardRetryAfterError", run: testGuardRetryAfterError},
	}
}

var guardRecord = idempotency.Record{Fingerprint: "fp", Status: 200, ContentType: "application/json", Body: []byte(`{"total":5}` + "\n")}

// newGuard returns a Guard over a new Store that fails t on any Store error.
func newGuard(t *testing.T, h Harness) *idempotency.Guard {
	return &idempotency.Guard{
		Store: h.New(t),
		Lease: testLease,
		TTL:   testTTL,
		OnStoreError: func(op string, err error) {
			t.Errorf("Guard: Store %s failed: %v", op, err)
		},
	}
}

// counted returns a Func that counts its runs in n and returns rec.
func counted(n *atomic.Int32, rec idempotency.Record) idempotency.Func {
	return func(context.Context) (idempotency.Record, bool, error) {
		n.Add(1)
		return rec, false, nil
	}
}

// wantResult checks that Do returned guardRecord, with replayed, stamped
// with the time it was first made and published with its expiry.
func wantResult(tb testing.TB, got idempotency.Result, err error, replayed bool) {
	tb.Helper()
	wantErr(tb, "Guard.Do", err, nil)
	want := guardRecord
	want.Created = got.Created
	if got.Replayed != replayed || !sameRecord(got.Record, want) || got.Created.IsZero() {
		tb.Fatalf("Guard.Do = %s replayed %v, want %s replayed %v and a Created time", show(got.Record), got.Replayed, show(guardRecord), replayed)
	}
	if !got.Expires.Equal(got.Created.Add(testTTL)) {
		tb.Fatalf("Guard.Do: Expires %v, want Created plus the TTL, %v", got.Expires, got.Created.Add(testTTL))
	}
}

func wantRuns(tb testing.TB, n *atomic.Int32, want int32) {
	tb.Helper()
	if got := n.Load(); got != want {
		tb.Fatalf("Func ran %d times, want %d", got, want)
	}
}

func testGuardReplay(t *testing.T, h Harness) {
	g := newGuard(t, h)
	var runs atomic.Int32
	res, err := g.Do(t.Context(), "k", "fp", counted(&runs, guardRecord))
	wantResult(t, res, err, false)
	res, err = g.Do(t.Context(), "k", "fp", counted(&runs, idempotency.Record{Status: 500}))
	wantResult(t, res, err, true)
	wantRuns(t, &runs, 1)
}

func testGuardMismatch(t *testing.T, h Harness) {
	g := newGuard(t, h)
	var runs atomic.Int32
	res, err := g.Do(t.Context(), "k", "fp", counted(&runs, guardRecord))
	wantResult(t, res, err, false)
	_, err = g.Do(t.Context(), "k", "other", counted(&runs, guardRecord))
	wantErr(t, "Guard.Do with another fingerprint", err, idempotency.ErrMismatch)
	wantRuns(t, &runs, 1)
}

func testGuardInFlight(t *testing.T, h Harness) {
	g := newGuard(t, h)
	started, finish := make(chan struct{}), make(chan struct{})
	release := sync.OnceFunc(func() { close(finish) })
	defer release()
	done := make(chan error, 1)
	go func() {
		_, err := g.Do(context.Background(), "k", "fp", func(context.Context) (idempotency.Record, bool, error) {
			close(started)
			<-finish
			return guardRecord, false, nil
		})
		done <- err
	}()
	<-started
	var runs atomic.Int32
	for _, fp := range []string{"fp", "other"} {
		_, err := g.Do(t.Context(), "k", fp, counted(&runs, guardRecord))
		wantErr(t, "Guard.Do while the first runs", err, idempotency.ErrInFlight)
	}
	wantRuns(t, &runs, 0)
	release()
	wantErr(t, "first Guard.Do", <-done, nil)
	res, err := g.Do(t.Context(), "k", "fp", counted(&runs, guardRecord))
	wantResult(t, res, err, true)
}

func testGuardRetryAfterError(t *testing.T, h Harness) {
	g := newGuard(t, h)
	boom := errors.New("boom")
	_, err := g.Do(t.Context(), "k", "fp", func(context.Context) (idempotency.Record, bool, error) {
		return idempotency.Record{}, false, boom
	})
	wantErr(t, "failing Guard.Do", err, boom)
	var runs atomic.Int32
	res, err := g.Do(t.Context(), "k", "fp", counted(&runs, guardRecord))
	wantResult(t, res, err, false)
	wantRuns(t, &runs, 1)
}
