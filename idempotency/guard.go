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
type Func func(ctx context.Context) (rec Record, existing bool, err error)

// Guard runs a Func at most once per key and replays its Record to
// duplicates. It uses Store, when set, to answer duplicates from a cache
// and to turn away concurrent duplicates with ErrInFlight; when Store fails
// the Guard degrades to Func's own fence for Backoff before trying the
// Store again. A Guard is safe for concurrent use.
type Guard struct {
	Store   Store         // optional accelerator; nil means fence only
	Lease   time.Duration // how long a claim lives; 0 means DefaultLease
	TTL     time.Duration // how long a completed record is cached; 0 means DefaultTTL
	Backoff time.Duration // how long to bypass a failing Store; 0 means 1s
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

	// OnStoreError, when set, is told of each Store failure (degraded mode).
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
}

// pollInterval is how often DoWait looks again at a key in flight.
const pollInterval = 20 * time.Millisecond

// Do returns the Record for key: a replay when the key already completed
// with fingerprint fp, or the Record of running fn. It returns ErrMismatch
// when the key completed with another fingerprint and ErrInFlight when
// another request holds the key's claim. Errors of fn are returned as is.
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
// then the record cached (and the claim released).
func (g *Guard) do(ctx context.Context, key, fp string, fn Func) (Result, error) {
	token, res, done, err := g.begin(ctx, key, fp)
	if done {
		return res, err
	}
	finished := false
	if token != "" {
		defer func() { // on a panic or an error of fn: let others retry
			if !finished {
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
	if !existing && rec.Fingerprint == "" {
		rec.Fingerprint = fp
	}
	finished = g.complete(ctx, key, token, rec)
	return replay(rec, existing, fp)
}

// begin is an attempt's first Store round trip; done reports that it is
// the attempt's answer (res, err) and fn must not run. Fenced, it looks
// the key up: a hit is replayed, a miss runs fn without a claim. Otherwise
// it claims first: a Store's Claim fails with ErrInFlight for a completed
// key too, so a fresh key costs one round trip before fn, and only a busy
// or completed key is looked up; token is the claim taken, if any (none
// while the Store is bypassed).
func (g *Guard) begin(ctx context.Context, key, fp string) (token string, res Result, done bool, err error) {
	if g.Fenced {
		res, ok, err := g.cached(ctx, key, fp)
		return "", res, ok || err != nil, err
	}
	if token, err = g.claim(ctx, key); !errors.Is(err, ErrInFlight) {
		return token, Result{}, false, nil
	}
	if res, ok, err := g.cached(ctx, key, fp); ok || err != nil {
		return "", res, true, err
	}
	if !errors.Is(err, ErrCompleted) {
		return "", Result{}, true, ErrInFlight // a live claim
	}
	// The record the claim met is gone: it expired, or the Store threw it
	// away as untrusted. Claim again; only a live claim is in flight.
	if token, err = g.claim(ctx, key); errors.Is(err, ErrInFlight) {
		return "", Result{}, true, ErrInFlight
	}
	return token, Result{}, false, nil
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

// ttlOf returns how much longer rec is to be remembered: until its Created
// time plus TTL, never longer than TTL from now.
func (g *Guard) ttlOf(rec Record) time.Duration {
	ttl := orDefault(g.TTL, DefaultTTL)
	if rec.Created.IsZero() {
		return ttl
	}
	return min(ttl, rec.Created.Add(ttl).Sub(g.now()))
}

func replay(rec Record, existing bool, fp string) (Result, error) {
	if existing && rec.Fingerprint != fp {
		return Result{}, ErrMismatch
	}
	return Result{Record: rec, Replayed: existing}, nil
}

// cached looks key up in the Store; ok reports a hit.
func (g *Guard) cached(ctx context.Context, key, fp string) (Result, bool, error) {
	if !g.Available() {
		return Result{}, false, nil
	}
	rec, err := g.Store.Get(ctx, key)
	if err != nil {
		g.failed(ctx, "get", err)
		return Result{}, false, nil
	}
	if ValidRecord(rec) != nil { // a Store should not return one; never replay it
		return Result{}, false, nil
	}
	res, err := replay(rec, true, fp)
	return res, true, err
}

func (g *Guard) claim(ctx context.Context, key string) (string, error) {
	if !g.Available() {
		return "", nil
	}
	token, err := g.Store.Claim(ctx, key, g.lease())
	if err != nil && !errors.Is(err, ErrInFlight) {
		g.failed(ctx, "claim", err)
		return "", nil
	}
	return token, err
}

// complete caches rec (unless ValidRecord refuses it, such as a 5xx, or it
// is already past its TTL) and,
// with a Completer, also releases the claim in the same round trip; it
// reports whether it did.
func (g *Guard) complete(ctx context.Context, key, token string, rec Record) bool {
	ttl := g.ttlOf(rec)
	if !g.Available() || ValidRecord(rec) != nil || ttl <= 0 {
		return false
	}
	ctx, cancel := detached(ctx)
	defer cancel()
	if c, ok := g.Store.(Completer); ok && token != "" {
		err := c.Complete(ctx, key, token, rec, ttl)
		g.failed(ctx, "complete", err)
		return err == nil
	}
	g.failed(ctx, "put", g.Store.Put(ctx, key, rec, ttl))
	return false
}

func (g *Guard) release(ctx context.Context, key, token string) {
	ctx, cancel := detached(ctx)
	defer cancel()
	g.failed(ctx, "release", g.Store.Release(ctx, key, token))
}

// detached keeps ctx's values but not its cancellation, so that cleanup
// still happens after the client went away.
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
}

// failed records a Store failure and bypasses the Store for Backoff. A
// failure caused by the caller's own context ending (a client that went
// away) says nothing about the Store and is ignored.
func (g *Guard) failed(ctx context.Context, op string, err error) {
	if err == nil || errors.Is(err, ErrNotFound) || ctx.Err() != nil {
		return
	}
	g.downUntil.Store(g.now().Add(orDefault(g.Backoff, time.Second)).UnixNano())
	if g.OnStoreError != nil {
		g.OnStoreError(op, err)
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
