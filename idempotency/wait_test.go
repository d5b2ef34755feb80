package idempotency_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"idemsum/idempotency"
	"idemsum/idempotency/idempotencytest"
)

func TestDoWaitReplaysTheOriginal(t *testing.T) {
	t.Parallel()
	g := &idempotency.Guard{Store: idempotencytest.NewMemStore(time.Now), Lease: time.Minute, TTL: time.Hour}
	ctx := context.Background()
	started, finish := make(chan struct{}), make(chan struct{})
	done := make(chan idempotency.Result)
	go func() {
		res, err := g.Do(ctx, "k", "fp", func(context.Context) (idempotency.Record, bool, error) {
			close(started)
			<-finish
			return idempotency.Record{Fingerprint: "fp", Status: 200, Body: []byte("first")}, false, nil
		})
		if err != nil {
			t.Errorf("original: %v", err)
		}
		done <- res
	}()
	<-started
	if _, err := g.Do(ctx, "k", "fp", nil); !errors.Is(err, idempotency.ErrInFlight) {
		t.Fatalf("duplicate without wait: got %v, want ErrInFlight", err)
	}
	waiter := make(chan idempotency.Result)
	go func() {
		res, err := g.DoWait(ctx, "k", "fp", 10*time.Second, func(context.Context) (idempotency.Record, bool, error) {
			t.Error("the waiting duplicate ran fn")
			return idempotency.Record{}, false, nil
		})
		if err != nil {
			t.Errorf("waiter: %v", err)
		}
		waiter <- res
	}()
	close(finish)
	orig, dup := <-done, <-waiter
	if !dup.Replayed || string(dup.Body) != string(orig.Body) {
		t.Errorf("waiter got replayed=%v body %q, want replay of %q", dup.Replayed, dup.Body, orig.Body)
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

func TestDoWaitTakesOverAReleasedClaim(t *testing.T) {
	t.Parallel()
	s := idempotencytest.NewMemStore(time.Now)
	g := &idempotency.Guard{Store: s, Lease: time.Minute, TTL: time.Hour}
	ctx := context.Background()
	token, err := s.Claim(ctx, "k", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan struct{})
	done := make(chan error)
	go func() {
		_, err := g.DoWait(ctx, "k", "fp", 10*time.Second, func(context.Context) (idempotency.Record, bool, error) {
			close(ran)
			return idempotency.Record{Fingerprint: "fp", Status: 200}, false, nil
		})
		done <- err
	}()
	if err := s.Release(ctx, "k", token); err != nil { // the holder failed without a record
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("got %v, want the waiter to take the key over", err)
	}
	<-ran
}
