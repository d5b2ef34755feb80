package idempotency

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// The Guard's round trips to its Store, and what a failed one means.

// cached looks key up in the Store; ok reports a hit. A Store that cannot
// be reached is a miss under RunUnguarded and ErrStoreUnavailable under
// FailClosed.
func (g *Guard) cached(ctx context.Context, key, fp string) (Result, bool, error) {
	if g.Store == nil {
		return Result{}, false, nil
	}
	if !g.Available() {
		return Result{}, false, g.unavailable("get", nil)
	}
	rec, err := g.Store.Get(ctx, key)
	if err != nil && !errors.Is(err, ErrNotFound) {
		g.failed(ctx, "get", err)
		return Result{}, false, g.unavailable("get", err)
	}
	if err != nil || ValidRecord(rec) != nil { // a Store should not return an invalid one; never replay it
		return Result{}, false, nil
	}
	res, err := g.replay(rec, true, fp)
	return res, true, err
}

// claim takes key's claim and returns its token: "" and nil without a
// Store or, under RunUnguarded, when it cannot be reached;
// ErrStoreUnavailable then under FailClosed; ErrInFlight (or
// ErrCompleted) when the key is held.
func (g *Guard) claim(ctx context.Context, key string) (string, error) {
	if g.Store == nil {
		return "", nil
	}
	if !g.Available() {
		return "", g.unavailable("claim", nil)
	}
	token, err := g.Store.Claim(ctx, key, g.lease())
	if err != nil && !errors.Is(err, ErrInFlight) {
		g.failed(ctx, "claim", err)
		return "", g.unavailable("claim", err)
	}
	return token, err
}

// unavailable is what a Store round trip op that could not be made means
// under the Guard's StoreDown policy: nil (carry on without the Store)
// under RunUnguarded, else ErrStoreUnavailable wrapping err, the Store's
// error (nil when the Store was bypassed without a call).
func (g *Guard) unavailable(op string, err error) error {
	switch {
	case g.StoreDown == RunUnguarded:
		return nil
	case err == nil:
		return ErrStoreUnavailable
	}
	return fmt.Errorf("%w: %s: %w", ErrStoreUnavailable, op, err)
}

// records reports whether a Record with status is stored and replayed.
func (g *Guard) records(status int) bool {
	if !Cacheable(status) {
		return false
	}
	if g.RecordStatus != nil {
		return g.RecordStatus(status)
	}
	return DefaultRecordStatus(status)
}

// complete stores rec (unless its status is not recorded, ValidRecord
// refuses it, or it is already past its TTL at now) and, with a
// Completer, also releases the claim in the same round trip. It reports
// whether the Store now keeps rec, and whether the claim was released.
func (g *Guard) complete(ctx context.Context, key, token string, rec Record, now time.Time) (kept, released bool) {
	ttl := g.ttlOf(rec, now)
	if !g.Available() || !g.records(rec.Status) || ValidRecord(rec) != nil || ttl <= 0 {
		return false, false
	}
	ctx, cancel := detached(ctx)
	defer cancel()
	if c, ok := g.Store.(Completer); ok && token != "" {
		err := c.Complete(ctx, key, token, rec, ttl)
		g.failed(ctx, "complete", err)
		return err == nil, err == nil
	}
	err := g.Store.Put(ctx, key, rec, ttl)
	g.failed(ctx, "put", err)
	return err == nil, false
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
	g.downUntil.Store(g.now().Add(g.backoff()).UnixNano())
	if g.OnStoreError != nil {
		g.OnStoreError(op, err)
	}
}

func (g *Guard) backoff() time.Duration { return orDefault(g.Backoff, time.Second) }

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
