package idempotency_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/idemsum/idemsum/idempotency"
	"github.com/idemsum/idemsum/idempotency/idempotencytest"
)

var epoch = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// TestGuardExpires checks Result.Expires, the key's published expiry: the
// record's Created time plus TTL whenever the key is remembered, by the
// Store or (trusted without a Store, or under RunUnguarded) by Func's
// fence; zero when nothing remembers it.
func TestGuardExpires(t *testing.T) {
	t.Parallel()
	putFails := funcStore{put: func(context.Context, string, idempotency.Record, time.Duration) error { return errBackend }}
	created := epoch.Add(-30 * time.Minute)
	tests := []struct {
		name    string
		store   idempotency.Store // nil: a MemStore
		policy  idempotency.StoreDownPolicy
		rec     idempotency.Record
		existed bool
		want    time.Time
	}{
		{"fresh, stored", nil, idempotency.FailClosed, okRecord, false, epoch.Add(time.Hour)},
		{"fresh with its own Created", nil, idempotency.FailClosed, withCreated(okRecord, created), false, created.Add(time.Hour)},
		{"fresh, status not recorded", nil, idempotency.FailClosed, withStatus(okRecord, 429), false, time.Time{}},
		{"fresh, Put failed, fail closed", putFails, idempotency.FailClosed, okRecord, false, time.Time{}},
		{"fresh, Put failed, fence trusted", putFails, idempotency.RunUnguarded, okRecord, false, epoch.Add(time.Hour)},
		{"fence replay", nil, idempotency.FailClosed, withCreated(okRecord, created), true, created.Add(time.Hour)},
		{"fence replay without Created", nil, idempotency.FailClosed, okRecord, true, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := idempotencytest.NewClock(epoch)
			store := tt.store
			if store == nil {
				store = idempotencytest.NewMemStore(clock.Now)
			}
			g := &idempotency.Guard{Store: store, TTL: time.Hour, Now: clock.Now, StoreDown: tt.policy}
			r := &runs{rec: tt.rec, existed: tt.existed}
			res, err := g.Do(t.Context(), "k", "fp", r.fn)
			if err != nil || !res.Expires.Equal(tt.want) {
				t.Fatalf("Do: Expires %v, error %v; want %v, nil", res.Expires, err, tt.want)
			}
		})
	}
}

// TestGuardExpiresWithoutStore: a Guard without a Store trusts Func's
// fence, as idemsum's sumd does with -redis-url=off.
func TestGuardExpiresWithoutStore(t *testing.T) {
	t.Parallel()
	g := &idempotency.Guard{TTL: time.Hour, Now: func() time.Time { return epoch }}
	r := &runs{rec: okRecord}
	res, err := g.Do(t.Context(), "k", "fp", r.fn)
	if err != nil || !res.Expires.Equal(epoch.Add(time.Hour)) {
		t.Fatalf("Do: Expires %v, error %v; want %v", res.Expires, err, epoch.Add(time.Hour))
	}
}

// TestGuardReplayExpires: a replay from the Store carries the expiry of
// the first record, however late it comes.
func TestGuardReplayExpires(t *testing.T) {
	t.Parallel()
	clock := idempotencytest.NewClock(epoch)
	g := &idempotency.Guard{Store: idempotencytest.NewMemStore(clock.Now), TTL: time.Hour, Now: clock.Now}
	r := &runs{rec: okRecord}
	g.Do(t.Context(), "k", "fp", r.fn)
	clock.Advance(59 * time.Minute)
	res, err := g.Do(t.Context(), "k", "fp", r.fn)
	if err != nil || !res.Replayed || !res.Expires.Equal(epoch.Add(time.Hour)) {
		t.Fatalf("replay: replayed %v, Expires %v, error %v; want a replay expiring at %v", res.Replayed, res.Expires, err, epoch.Add(time.Hour))
	}
}

// TestGuardRecordStatus: a service's own record policy decides what is
// stored; a status it refuses releases the claim, so the retry runs Func
// again; 5xx is never stored whatever the policy says.
func TestGuardRecordStatus(t *testing.T) {
	t.Parallel()
	only201 := func(status int) bool { return status == 201 || status == 500 }
	tests := []struct {
		status int
		runs   int
	}{{200, 2}, {201, 1}, {400, 2}, {500, 2}}
	for _, tt := range tests {
		g := &idempotency.Guard{Store: idempotencytest.NewMemStore(nil), RecordStatus: only201}
		r := &runs{rec: withStatus(okRecord, tt.status)}
		for range 2 {
			if _, err := g.Do(t.Context(), "k", "fp", r.fn); err != nil {
				t.Fatalf("status %d: Do: %v", tt.status, err)
			}
		}
		if r.count() != tt.runs {
			t.Errorf("status %d: Func ran %d times, want %d", tt.status, r.count(), tt.runs)
		}
	}
}

// TestGuardFailsClosedOnAVanishedRecord: a claim refused because of a
// record that Get then cannot read for a Store failure must not run Func
// under FailClosed.
func TestGuardFailsClosedOnAVanishedRecord(t *testing.T) {
	t.Parallel()
	store := funcStore{
		claim: func(context.Context, string, time.Duration) (string, error) { return "", idempotency.ErrCompleted },
		get:   func(context.Context, string) (idempotency.Record, error) { return idempotency.Record{}, errBackend },
	}
	g := &idempotency.Guard{Store: store}
	r := &runs{rec: okRecord}
	if _, err := g.Do(t.Context(), "k", "fp", r.fn); !errors.Is(err, idempotency.ErrStoreUnavailable) || r.count() != 0 {
		t.Fatalf("Do: got %v and %d runs, want ErrStoreUnavailable and none", err, r.count())
	}
}

func withStatus(rec idempotency.Record, status int) idempotency.Record {
	rec.Status = status
	return rec
}

func withCreated(rec idempotency.Record, created time.Time) idempotency.Record {
	rec.Created = created
	return rec
}
