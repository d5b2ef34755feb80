package redisstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/idemsum/idemsum/idempotency"
	"github.com/idemsum/idemsum/idempotency/redisstore"
)

func TestCompleteStoresAndReleasesOnlyItsOwnClaim(t *testing.T) {
	t.Parallel()
	sp := newSpace(t)
	s := redisstore.New(sp.c, sp.prefix, secret)
	ctx := context.Background()
	rec := idempotency.Record{Fingerprint: "fp", Status: 200, Body: []byte("one")}

	tok, err := s.Claim(ctx, "mine", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Complete(ctx, "mine", tok, rec, time.Hour); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, "mine"); err != nil || string(got.Body) != "one" {
		t.Errorf("Get after Complete got %q, %v; want the record", got.Body, err)
	}
	if n := sp.c.Exists(ctx, redisstore.ClaimName(sp.prefix, "mine")).Val(); n != 0 {
		t.Errorf("claim still exists after Complete with its token")
	}

	other, err := s.Claim(ctx, "theirs", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Complete(ctx, "theirs", "not-"+other, rec, time.Hour); err != nil {
		t.Fatal(err)
	}
	if got := sp.c.Get(ctx, redisstore.ClaimName(sp.prefix, "theirs")).Val(); got != other {
		t.Errorf("another holder's claim got %q, want it kept (%q)", got, other)
	}
	if err := s.Complete(ctx, "x", "t", rec, 0); !errors.Is(err, redisstore.ErrDuration) {
		t.Errorf("Complete with ttl 0 got %v, want ErrDuration", err)
	}
}

func TestCompleteKeepsTheFirstRecord(t *testing.T) {
	t.Parallel()
	sp := newSpace(t)
	s := redisstore.New(sp.c, sp.prefix, secret)
	ctx := context.Background()
	first := idempotency.Record{Fingerprint: "a", Status: 200, Body: []byte("first")}
	if err := s.Put(ctx, "k", first, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.Complete(ctx, "k", "t", idempotency.Record{Fingerprint: "b", Status: 200}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(ctx, "k"); got.Fingerprint != "a" {
		t.Errorf("record got fingerprint %q, want the first (a)", got.Fingerprint)
	}
}

func TestCompleteFailsWhenRedisIsDown(t *testing.T) {
	t.Parallel()
	sp := newSpace(t)
	s := redisstore.New(sp.c, sp.prefix, secret)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Complete(ctx, "k", "t", idempotency.Record{}, time.Hour); err == nil {
		t.Error("Complete on a dead context got nil, want an error")
	}
}
