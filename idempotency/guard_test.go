package idempotency_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idemsum/idemsum/idempotency"
	"github.com/idemsum/idemsum/idempotency/idempotencytest"
)

var errBackend = errors.New("backend down")

// funcStore is a Store whose methods call its fields; an unset field
// behaves as an empty, working store.
type funcStore struct {
	get     func(ctx context.Context, key string) (idempotency.Record, error)
	claim   func(ctx context.Context, key string, lease time.Duration) (string, error)
	release func(ctx context.Context, key, token string) error
	put     func(ctx context.Context, key string, rec idempotency.Record, ttl time.Duration) error
}

func (s funcStore) Get(ctx context.Context, key string) (idempotency.Record, error) {
	if s.get == nil {
		return idempotency.Record{}, idempotency.ErrNotFound
	}
	return s.get(ctx, key)
}

func (s funcStore) Claim(ctx context.Context, key string, lease time.Duration) (string, error) {
	if s.claim == nil {
		return "token", nil
	}
	return s.claim(ctx, key, lease)
}

func (s funcStore) Release(ctx context.Context, key, token string) error {
	if s.release == nil {
		return nil
	}
	return s.release(ctx, key, token)
}

func (s funcStore) Put(ctx context.Context, key string, rec idempotency.Record, ttl time.Duration) error {
	if s.put == nil {
		return nil
	}
	return s.put(ctx, key, rec, ttl)
}

var okRecord = idempotency.Record{Fingerprint: "fp", Status: 200, ContentType: "application/json", Body: []byte(`{"total":1}`)}

// runs is a Func that counts its runs and returns rec with existed.
type runs struct {
	mu      sync.Mutex
	n       int
	rec     idempotency.Record
	existed bool
	err     error
}

func (r *runs) fn(context.Context) (idempotency.Record, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	return r.rec, r.existed, r.err
}

func (r *runs) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// errorLog collects the ops a Guard reports through OnStoreError.
type errorLog struct {
	mu  sync.Mutex
	ops []string
}

func (l *errorLog) add(op string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ops = append(l.ops, op)
}

func (l *errorLog) got() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.ops)
}

func wantDo(tb testing.TB, res idempotency.Result, err error, want idempotency.Record, replayed bool) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("Do: got error %v, want nil", err)
	}
	if res.Replayed != replayed || !sameRecord(res.Record, want) {
		tb.Fatalf("Do = %+v replayed %v, want %+v replayed %v", res.Record, res.Replayed, want, replayed)
	}
}

func sameRecord(a, b idempotency.Record) bool {
	return a.Fingerprint == b.Fingerprint && a.Status == b.Status &&
		a.ContentType == b.ContentType && string(a.Body) == string(b.Body)
}

// eventually polls cond until it holds, failing tb after a deadline.
func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func newMemGuard() *idempotency.Guard {
	return &idempotency.Guard{Store: idempotencytest.NewMemStore(nil), Lease: time.Minute, TTL: time.Hour}
}

// TestGuardStoreDown checks both StoreDown policies against a failing
// Store: the failure is reported once and the Store bypassed for Backoff;
// RunUnguarded runs the Func every time (its fence is trusted), FailClosed
// never runs it without the Store (ErrStoreUnavailable), though a Func
// that already ran before the Store failed has its record returned.
func TestGuardStoreDown(t *testing.T) {
	fail := func(context.Context, string) (idempotency.Record, error) { return idempotency.Record{}, errBackend }
	tests := []struct {
		name  string
		store funcStore
		ops   []string // reported to OnStoreError
		// closedRuns is how often FailClosed runs the Func in the two
		// calls: only a first call whose claim succeeded runs it.
		closedRuns int
	}{
		{"every call fails", funcStore{
			get:     fail,
			claim:   func(context.Context, string, time.Duration) (string, error) { return "", errBackend },
			release: func(context.Context, string, string) error { return errBackend },
			put:     func(context.Context, string, idempotency.Record, time.Duration) error { return errBackend },
		}, []string{"claim"}, 0},
		{"claim fails", funcStore{claim: func(context.Context, string, time.Duration) (string, error) { return "", errBackend }}, []string{"claim"}, 0},
		{"put fails", funcStore{put: func(context.Context, string, idempotency.Record, time.Duration) error { return errBackend }}, []string{"put"}, 1},
		{"release fails", funcStore{release: func(context.Context, string, string) error { return errBackend }}, []string{"release"}, 1},
	}
	for _, tt := range tests {
		for _, policy := range []idempotency.StoreDownPolicy{idempotency.RunUnguarded, idempotency.FailClosed} {
			t.Run(fmt.Sprint(tt.name, "/", policyName(policy)), func(t *testing.T) {
				var log errorLog
				g := &idempotency.Guard{Store: tt.store, Lease: time.Second, TTL: time.Minute, Backoff: time.Hour, OnStoreError: log.add, StoreDown: policy}
				r := &runs{rec: okRecord}
				for i := range 2 {
					res, err := g.Do(t.Context(), "k", "fp", r.fn)
					if policy == idempotency.FailClosed && i >= tt.closedRuns {
						if !errors.Is(err, idempotency.ErrStoreUnavailable) {
							t.Fatalf("call %d: got %v, want ErrStoreUnavailable", i, err)
						}
						continue
					}
					wantDo(t, res, err, okRecord, false)
				}
				want := 2
				if policy == idempotency.FailClosed {
					want = tt.closedRuns
				}
				if r.count() != want {
					t.Fatalf("Func ran %d times, want %d", r.count(), want)
				}
				if got := log.got(); !slices.Equal(got, tt.ops) {
					t.Fatalf("OnStoreError ops = %v, want %v", got, tt.ops)
				}
				if g.Available() {
					t.Fatalf("Available() = true during Backoff, want false")
				}
			})
		}
	}
}

func policyName(p idempotency.StoreDownPolicy) string {
	if p == idempotency.RunUnguarded {
		return "RunUnguarded"
	}
	return "FailClosed"
}

// TestGuardBackoffEnds: once Backoff is over the Store is used again,
// under either policy.
func TestGuardBackoffEnds(t *testing.T) {
	for _, policy := range []idempotency.StoreDownPolicy{idempotency.RunUnguarded, idempotency.FailClosed} {
		t.Run(policyName(policy), func(t *testing.T) {
			var failing atomic.Bool
			failing.Store(true)
			store := funcStore{
				claim: func(context.Context, string, time.Duration) (string, error) {
					if failing.Load() {
						return "", errBackend
					}
					return "", idempotency.ErrInFlight // the key completed meanwhile
				},
				get: func(context.Context, string) (idempotency.Record, error) { return okRecord, nil },
			}
			g := &idempotency.Guard{Store: store, Lease: time.Second, TTL: time.Minute, Backoff: time.Millisecond, StoreDown: policy}
			r := &runs{rec: okRecord}
			res, err := g.Do(t.Context(), "k", "fp", r.fn)
			if policy == idempotency.FailClosed {
				if !errors.Is(err, idempotency.ErrStoreUnavailable) || !errors.Is(err, errBackend) {
					t.Fatalf("Do with the Store failing: got %v, want ErrStoreUnavailable wrapping %v", err, errBackend)
				}
			} else {
				wantDo(t, res, err, okRecord, false)
			}
			failing.Store(false)
			eventually(t, "the Store to be used again", g.Available)
			res, err = g.Do(t.Context(), "k", "fp", r.fn)
			wantDo(t, res, err, okRecord, true)
		})
	}
}

// TestGuardDefaultBackoff: the zero Guard fails closed and bypasses a
// failing Store for a second.
func TestGuardDefaultBackoff(t *testing.T) {
	g := &idempotency.Guard{Store: funcStore{claim: func(context.Context, string, time.Duration) (string, error) {
		return "", errBackend
	}}}
	r := &runs{rec: okRecord}
	if _, err := g.Do(t.Context(), "k", "fp", r.fn); !errors.Is(err, idempotency.ErrStoreUnavailable) {
		t.Fatalf("Do with the Store failing: got %v, want ErrStoreUnavailable", err)
	}
	if r.count() != 0 || g.Available() {
		t.Fatalf("after a failure with Backoff 0: Func ran %d times, Available() %v; want 0 and false", r.count(), g.Available())
	}
	if _, err := g.Do(t.Context(), "k", "fp", r.fn); !errors.Is(err, idempotency.ErrStoreUnavailable) || r.count() != 0 {
		t.Fatalf("Do during Backoff: got %v and %d runs, want ErrStoreUnavailable and none", err, r.count())
	}
}

// TestGuardNilStore checks that without a Store the Guard relies on the
// Func's own fence, replaying what it reports as existing.
func TestGuardNilStore(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name     string
		fp       string
		run      *runs
		replayed bool
		err      error
	}{
		{"new", "fp", &runs{rec: okRecord}, false, nil},
		{"existing", "fp", &runs{rec: okRecord, existed: true}, true, nil},
		{"existing mismatch", "other", &runs{rec: okRecord, existed: true}, false, idempotency.ErrMismatch},
		{"new with another fingerprint", "other", &runs{rec: okRecord}, false, nil},
		{"func error", "fp", &runs{err: boom}, false, boom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var g idempotency.Guard
			if g.Available() {
				t.Fatalf("Available() = true without a Store")
			}
			for range 2 {
				res, err := g.Do(t.Context(), "k", tt.fp, tt.run.fn)
				if tt.err != nil {
					if !errors.Is(err, tt.err) {
						t.Fatalf("Do: got error %v, want %v", err, tt.err)
					}
					continue
				}
				wantDo(t, res, err, okRecord, tt.replayed)
			}
			if tt.run.count() != 2 {
				t.Fatalf("Func ran %d times, want 2", tt.run.count())
			}
		})
	}
}

func TestGuardServerErrorNotCached(t *testing.T) {
	g := newMemGuard()
	failed := idempotency.Record{Fingerprint: "fp", Status: 503, Body: []byte("try again")}
	r := &runs{rec: failed}
	res, err := g.Do(t.Context(), "k", "fp", r.fn)
	wantDo(t, res, err, failed, false)
	r.rec = okRecord
	res, err = g.Do(t.Context(), "k", "fp", r.fn)
	wantDo(t, res, err, okRecord, false)
	res, err = g.Do(t.Context(), "k", "fp", r.fn)
	wantDo(t, res, err, okRecord, true)
	if r.count() != 2 {
		t.Fatalf("Func ran %d times, want 2", r.count())
	}
}

// TestGuardFuncFindsExisting checks a Func that finds the key already
// done (its fence) after the cache lost it: the record is replayed, and
// cached for the next duplicate.
func TestGuardFuncFindsExisting(t *testing.T) {
	g := newMemGuard()
	r := &runs{rec: okRecord, existed: true}
	res, err := g.Do(t.Context(), "k", "fp", r.fn)
	wantDo(t, res, err, okRecord, true)
	_, err = g.Do(t.Context(), "k", "other", r.fn)
	if !errors.Is(err, idempotency.ErrMismatch) {
		t.Fatalf("Do with another fingerprint: got error %v, want %v", err, idempotency.ErrMismatch)
	}
	if r.count() != 1 {
		t.Fatalf("Func ran %d times, want 1", r.count())
	}
}

// TestGuardInFlight checks the answers to a duplicate whose claim is held:
// ErrInFlight, or the record if it was stored in the meantime.
func TestGuardInFlight(t *testing.T) {
	inFlight := func(context.Context, string, time.Duration) (string, error) { return "", idempotency.ErrInFlight }
	tests := []struct {
		name    string
		records []error // results of successive Gets: nil is okRecord
		fp      string
		err     error
	}{
		{"still running", []error{idempotency.ErrNotFound}, "fp", idempotency.ErrInFlight},
		{"finished meanwhile", []error{nil}, "fp", nil},
		{"finished meanwhile, mismatch", []error{nil}, "other", idempotency.ErrMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gets := slices.Clone(tt.records)
			var mu sync.Mutex
			get := func(context.Context, string) (idempotency.Record, error) {
				mu.Lock()
				defer mu.Unlock()
				err := gets[0]
				gets = gets[1:]
				if err != nil {
					return idempotency.Record{}, err
				}
				return okRecord, nil
			}
			g := &idempotency.Guard{Store: funcStore{get: get, claim: inFlight}, Lease: time.Second, TTL: time.Minute}
			r := &runs{rec: okRecord}
			res, err := g.Do(t.Context(), "k", tt.fp, r.fn)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("Do: got error %v, want %v", err, tt.err)
				}
			} else {
				wantDo(t, res, err, okRecord, true)
			}
			if r.count() != 0 {
				t.Fatalf("Func ran %d times, want 0", r.count())
			}
		})
	}
}

// TestGuardStoreArguments checks that the Guard passes its Lease and TTL,
// stores and releases under the key with the claimed token, and cleans up
// even when the request's context ends inside the Func.
func TestGuardStoreArguments(t *testing.T) {
	var mu sync.Mutex
	var calls []string
	note := func(ctx context.Context, call string) {
		mu.Lock()
		defer mu.Unlock()
		if ctx.Err() != nil {
			call += " with a dead context"
		}
		calls = append(calls, call)
	}
	store := funcStore{
		claim: func(ctx context.Context, key string, lease time.Duration) (string, error) {
			note(ctx, "claim "+key+" "+lease.String())
			return "tok", nil
		},
		put: func(ctx context.Context, key string, rec idempotency.Record, ttl time.Duration) error {
			note(ctx, "put "+key+" "+ttl.String())
			return nil
		},
		release: func(ctx context.Context, key, token string) error {
			note(ctx, "release "+key+" "+token)
			return nil
		},
	}
	g := &idempotency.Guard{Store: store, Lease: 3 * time.Second, TTL: time.Hour}
	ctx, cancel := context.WithCancel(t.Context())
	res, err := g.Do(ctx, "k", "fp", func(context.Context) (idempotency.Record, bool, error) {
		cancel()
		return okRecord, false, nil
	})
	wantDo(t, res, err, okRecord, false)
	want := []string{"claim k 3s", "put k 1h0m0s", "release k tok"}
	if !slices.Equal(calls, want) {
		t.Fatalf("Store calls = %q, want %q", calls, want)
	}
}

// TestGuardLeaseOverrun: OnLeaseOverrun hears of a fn that outlives its
// claim's lease, and only of that: not of a quick fn, nor of a fn that ran
// without a claim (no Store). The Guard's clock is injected: a slow fn
// moves it on by two leases.
func TestGuardLeaseOverrun(t *testing.T) {
	const lease = 20 * time.Millisecond
	tests := []struct {
		name  string
		store idempotency.Store
		took  time.Duration
		want  int
	}{
		{"slow under a claim", idempotencytest.NewMemStore(nil), 2 * lease, 1},
		{"quick under a claim", idempotencytest.NewMemStore(nil), 0, 0},
		{"slow without a Store", nil, 2 * lease, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := idempotencytest.NewClock(time.Unix(1_700_000_000, 0))
			var held []time.Duration
			g := &idempotency.Guard{Store: tt.store, Lease: lease, Now: clock.Now, OnLeaseOverrun: func(d time.Duration) { held = append(held, d) }}
			fn := func(ctx context.Context) (idempotency.Record, bool, error) {
				clock.Advance(tt.took)
				return idempotency.Record{Status: 200}, false, nil
			}
			if _, err := g.Do(t.Context(), "k", "fp", fn); err != nil {
				t.Fatalf("Do: %v", err)
			}
			if len(held) != tt.want {
				t.Fatalf("OnLeaseOverrun calls: got %v, want %d", held, tt.want)
			}
			for _, d := range held {
				if d != tt.took {
					t.Errorf("overrun reported after %v, want %v", d, tt.took)
				}
			}
		})
	}
}

// TestGuardCachesUntilTheKeysDeadline: a record is cached for what is left
// of its key's TTL from its Created time — a record replayed from the
// fence late in its life gets the rest, not a full new TTL — and one past
// its deadline is not cached at all.
func TestGuardCachesUntilTheKeysDeadline(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name    string
		created time.Time
		want    string // the put, or "" for none
	}{
		{"new", time.Time{}, "put 1h0m0s"},
		{"created now", now, "put 1h0m0s"},
		{"created 45m ago", now.Add(-45 * time.Minute), "put 15m0s"},
		{"past its deadline", now.Add(-61 * time.Minute), ""},
		{"created in the future (clock skew)", now.Add(time.Hour), "put 1h0m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var puts []string
			store := funcStore{
				claim: func(context.Context, string, time.Duration) (string, error) { return "tok", nil },
				put: func(_ context.Context, _ string, _ idempotency.Record, ttl time.Duration) error {
					puts = append(puts, "put "+ttl.String())
					return nil
				},
				release: func(context.Context, string, string) error { return nil },
			}
			g := &idempotency.Guard{Store: store, TTL: time.Hour, Now: func() time.Time { return now }}
			rec := okRecord
			rec.Created = tt.created
			if _, err := g.Do(t.Context(), "k", "fp", func(context.Context) (idempotency.Record, bool, error) { return rec, true, nil }); err != nil {
				t.Fatalf("Do: %v", err)
			}
			if got := strings.Join(puts, ","); got != tt.want {
				t.Errorf("puts got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestGuardClaimsAgainOnlyAfterAVanishedRecord: when Claim refused because
// of a record (ErrCompleted) that Get then no longer finds, the Guard
// claims again and runs fn; when a live claim refused it (ErrInFlight), it
// answers ErrInFlight after one Claim, spending no second round trip.
func TestGuardClaimsAgainOnlyAfterAVanishedRecord(t *testing.T) {
	for _, tt := range []struct {
		name       string
		refusal    error
		wantClaims int
		wantErr    error
	}{
		{"record gone", idempotency.ErrCompleted, 2, nil},
		{"live claim", idempotency.ErrInFlight, 1, idempotency.ErrInFlight},
	} {
		t.Run(tt.name, func(t *testing.T) {
			claims := 0
			store := funcStore{claim: func(context.Context, string, time.Duration) (string, error) {
				if claims++; claims == 1 {
					return "", tt.refusal
				}
				return "tok", nil
			}}
			g := &idempotency.Guard{Store: store}
			_, err := g.Do(t.Context(), "k", "fp", func(context.Context) (idempotency.Record, bool, error) { return okRecord, false, nil })
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("Do: got %v, want %v", err, tt.wantErr)
			}
			if claims != tt.wantClaims {
				t.Errorf("Claims: got %d, want %d", claims, tt.wantClaims)
			}
		})
	}
}
