package idempotency

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// Func is the operation a Guard protects. It must record its effect and
// its Record durably under the key in one atomic step (for example one
// database transaction with a unique key on the key column), so that a
// second run for the same key makes no effect. If the key already has a
// record, Func returns that stored record with existing true.
//
// Such a fence is what makes an effect exactly once whatever happens
// between the effect and the Store's record of it: a process killed
// there, a Store that lost the record (flushed, failed over, evicted), a
// Func that outlived its claim's lease. Without it, each of these lets a
// retry run Func again. Middleware's handlers have no such contract; the
// toolkit's tutorial (docs/toolkit.md) shows the pattern for a handler.
type Func func(ctx context.Context) (rec Record, existing bool, err error)

// Guard runs a Func at most once per key and replays its Record to
// duplicates, using Store to find a key's Record and to turn away
// concurrent duplicates with ErrInFlight. A Guard is safe for concurrent
// use; set its fields before its first use.
//
// # When the Store cannot be reached
//
// StoreDown decides. The default, FailClosed, refuses with
// ErrStoreUnavailable and does not run Func: choose it whenever Func's
// effect is not fenced as Func describes, which is the case of every
// handler behind Middleware unless it records the key in its own
// transaction. RunUnguarded runs Func without the Store, as if Store were
// nil: choose it only when Func has that durable fence (idemsum's sumd
// does: its ledger's primary key is the fence), to stay available through
// a Store outage at the cost of duplicates reaching the fence. Either way
// a failure makes the Guard bypass the Store for Backoff, then try it
// again.
type Guard struct {
	Store   Store         // where keys are claimed and records kept; nil means Func's fence alone
	Lease   time.Duration // how long a claim lives; 0 means DefaultLease
	TTL     time.Duration // how long a key is remembered; 0 means DefaultTTL
	Backoff time.Duration // how long to bypass a failing Store; 0 means 1s
	// StoreDown says what happens while Store cannot be reached:
	// FailClosed (the zero value) or RunUnguarded. See the type's doc.
	StoreDown StoreDownPolicy
	// RecordStatus says which statuses are recorded and replayed; nil
	// means DefaultRecordStatus. A Record whose status it refuses is
	// returned to its caller but not stored, and its claim is released,
	// so a retry runs Func again. Statuses outside 200-499 are never
	// stored, whatever it says (ValidRecord). Records already stored are
	// replayed whatever it says now.
	RecordStatus func(status int) bool
	// Now is the clock that TTLs are computed with; nil means time.Now.
	Now func() time.Time
	// Fenced says that Func's own fence answers a concurrent duplicate
	// itself: a second run for a key in flight waits for the first run's
	// commit and returns its record with existing true (a unique key in a
	// database does: the second insert waits on the first's row lock). The
	// Guard then takes no claims: a fresh key costs one Store lookup before
	// fn and one Put after it, and a duplicate in flight is answered with
	// the first run's record once it commits instead of ErrInFlight. Leave
	// it false for a Func without such a fence (Middleware's handlers).
	Fenced bool
	// Scope, when set, names the owner of each request's keys from its
	// context, such as the authenticated client: the Guard keeps key as
	// ScopedKey(Scope(ctx), key), so the same key from two owners is two
	// keys. Func's own fence must be scoped the same way (for example a
	// unique key on (owner, key)). nil means one scope for everyone.
	Scope func(ctx context.Context) string

	// OnStoreError, when set, is told of each Store failure.
	OnStoreError func(op string, err error)
	// OnLeaseOverrun, when set, is told when fn returns after its claim's
	// lease ran out: another request may have taken the key over meanwhile,
	// and only fn's own fence kept the effect single. Frequent overruns
	// mean the lease is too short for fn.
	OnLeaseOverrun func(held time.Duration)

	downUntil atomic.Int64 // unix nanoseconds; Store bypassed before then
}

// The Guard's defaults.
const (
	DefaultLease = 5 * time.Second // how long a claim lives
	DefaultTTL   = 24 * time.Hour  // how long a key is remembered
)

// Result is what Do returns on success.
type Result struct {
	Record
	Replayed bool // true when Record was produced by an earlier request
	Waited   bool // true when DoWait waited for another request's claim
	// Expires is when the key may be forgotten, and a request with it run
	// as new: Record.Created plus the Guard's TTL. It is zero when the key
	// is not remembered: Record's status is not recorded (RecordStatus),
	// or the Store failed to keep it under FailClosed; and on a replay of
	// a Record without a Created time.
	Expires time.Time
}

// pollInterval is how often DoWait looks again at a key in flight.
const pollInterval = 20 * time.Millisecond

// Do returns the Record for key: a replay when the key already completed
// with fingerprint fp, or the Record of running fn. It returns ErrMismatch
// when the key completed with another fingerprint, ErrInFlight when
// another request holds the key's claim, and ErrStoreUnavailable when the
// Store cannot be reached under FailClosed. Errors of fn are returned as
// is. When fn ran but its Record could not be stored, Do still returns it
// (the effect happened and the caller must be told), with Expires zero.
func (g *Guard) Do(ctx context.Context, key, fp string, fn Func) (Result, error) {
	return g.DoWait(ctx, key, fp, 0, fn)
}

// DoWait is Do, except that while another request holds the key's claim it
// waits up to wait (RFC 7240 "Prefer: wait") for that request's Record,
// polling the Store, and takes the claim over if it is released or expires
// without one. It returns ErrInFlight when wait runs out or ctx is done.
func (g *Guard) DoWait(ctx context.Context, key, fp string, wait time.Duration, fn Func) (Result, error) {
	if g.Scope != nil {
		key = ScopedKey(g.Scope(ctx), key)
	}
	deadline := time.Now().Add(wait)
	for waited := false; ; waited = true {
		res, err := g.do(ctx, key, fp, fn)
		res.Waited = waited
		if !errors.Is(err, ErrInFlight) || !time.Now().Add(pollInterval).Before(deadline) {
			return res, err
		}
		t := time.NewTimer(pollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return res, err
		case <-t.C:
		}
	}
}

// do makes one attempt: begin, then fn under the claim (if one was taken),
// then the record stored (and the claim released).
func (g *Guard) do(ctx context.Context, key, fp string, fn Func) (Result, error) {
	token, res, done, err := g.begin(ctx, key, fp)
	if done {
		return res, err
	}
	released := false
	if token != "" {
		defer func() { // on a panic, an error of fn or a record not stored: let others retry
			if !released {
				g.release(ctx, key, token)
			}
		}()
	}
	claimed := g.now()
	rec, existing, err := fn(ctx)
	g.noteOverrun(token, claimed)
	if err != nil {
		return Result{}, err
	}
	now := g.now()
	if !existing {
		rec = stamp(rec, fp, now)
	}
	var kept bool
	kept, released = g.complete(ctx, key, token, rec, now)
	if res, err = g.replay(rec, existing, fp); err != nil {
		return res, err
	}
	if !existing && g.records(rec.Status) && (kept || g.trustsFence()) {
		res.Expires = g.expiry(rec)
	}
	return res, nil
}

// stamp completes a fresh Record of fn: the request's fingerprint and its
// Created time, now, unless fn set them.
func stamp(rec Record, fp string, now time.Time) Record {
	if rec.Fingerprint == "" {
		rec.Fingerprint = fp
	}
	if rec.Created.IsZero() {
		rec.Created = now
	}
	return rec
}

// trustsFence reports whether the Guard relies on Func's fence to
// remember a key when its Store does not: without a Store, or when told
// to run unguarded.
func (g *Guard) trustsFence() bool { return g.Store == nil || g.StoreDown == RunUnguarded }

// begin is an attempt's first Store round trip; done reports that it is
// the attempt's answer (res, err) and fn must not run. Fenced, it looks
// the key up: a hit is replayed, a miss runs fn without a claim. Otherwise
// it claims first: a Store's Claim fails with ErrInFlight for a completed
// key too, so a fresh key costs one round trip before fn, and only a busy
// or completed key is looked up; token is the claim taken, if any (none
// while the Store is bypassed under RunUnguarded). A Store that cannot be
// reached ends the attempt under FailClosed (ErrStoreUnavailable).
func (g *Guard) begin(ctx context.Context, key, fp string) (token string, res Result, done bool, err error) {
	if g.Fenced {
		res, ok, err := g.cached(ctx, key, fp)
		return "", res, ok || err != nil, err
	}
	if token, err = g.claim(ctx, key); !errors.Is(err, ErrInFlight) {
		return token, Result{}, err != nil, err
	}
	if res, ok, err := g.cached(ctx, key, fp); ok || err != nil {
		return "", res, true, err
	}
	if !errors.Is(err, ErrCompleted) {
		return "", Result{}, true, ErrInFlight // a live claim
	}
	// The record the claim met is gone: it expired, or the Store threw it
	// away as untrusted. Claim again; only a live claim is in flight.
	token, err = g.claim(ctx, key)
	return token, Result{}, err != nil, err
}

// noteOverrun tells OnLeaseOverrun when the claim token, taken at claimed,
// has outlived its lease.
func (g *Guard) noteOverrun(token string, claimed time.Time) {
	if token == "" || g.OnLeaseOverrun == nil {
		return
	}
	if held := g.now().Sub(claimed); held >= g.lease() {
		g.OnLeaseOverrun(held)
	}
}

// Available reports whether the Guard currently uses its Store.
func (g *Guard) Available() bool {
	return g.Store != nil && g.now().UnixNano() >= g.downUntil.Load()
}

func (g *Guard) lease() time.Duration { return orDefault(g.Lease, DefaultLease) }

func (g *Guard) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}

// ttlOf returns how much longer after now rec is to be remembered: until
// its Created time plus TTL, never longer than TTL from now.
func (g *Guard) ttlOf(rec Record, now time.Time) time.Duration {
	ttl := orDefault(g.TTL, DefaultTTL)
	if rec.Created.IsZero() {
		return ttl
	}
	return min(ttl, rec.Created.Add(ttl).Sub(now))
}

// expiry returns when the key of rec may be forgotten, or zero when rec
// does not say when it was created.
func (g *Guard) expiry(rec Record) time.Time {
	if rec.Created.IsZero() {
		return time.Time{}
	}
	return rec.Created.Add(orDefault(g.TTL, DefaultTTL))
}

// replay returns rec as the answer to a request with fingerprint fp, or
// ErrMismatch when rec existed for another fingerprint. A replay's Expires
// is set here; a fresh record's by do, which knows whether it was kept.
func (g *Guard) replay(rec Record, existing bool, fp string) (Result, error) {
	if !existing {
		return Result{Record: rec}, nil
	}
	if rec.Fingerprint != fp {
		return Result{}, ErrMismatch
	}
	return Result{Record: rec, Replayed: true, Expires: g.expiry(rec)}, nil
}
