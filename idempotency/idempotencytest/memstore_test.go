package idempotencytest_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/idemsum/idemsum/idempotency"
	"github.com/idemsum/idemsum/idempotency/idempotencytest"
)

func TestMemStore(t *testing.T) {
	var clocks sync.Map // *MemStore → *Clock
	idempotencytest.TestStore(t, idempotencytest.Harness{
		New: func(t *testing.T) idempotency.Store {
			c := idempotencytest.NewClock(time.Unix(1_700_000_000, 0))
			s := idempotencytest.NewMemStore(c.Now)
			clocks.Store(s, c)
			return s
		},
		Advance: func(t *testing.T, s idempotency.Store, d time.Duration) {
			c, _ := clocks.Load(s)
			c.(*idempotencytest.Clock).Advance(d)
		},
	})
}

func TestMemStoreWithoutAdvance(t *testing.T) {
	idempotencytest.TestStore(t, idempotencytest.Harness{
		New: func(*testing.T) idempotency.Store { return idempotencytest.NewMemStore(nil) },
	})
}

// TestMemStoreSweep runs enough writes to sweep expired entries and checks
// that live ones survive the sweep.
func TestMemStoreSweep(t *testing.T) {
	c := idempotencytest.NewClock(time.Unix(0, 0))
	s := idempotencytest.NewMemStore(c.Now)
	ctx := t.Context()
	live := idempotency.Record{Status: 200, Body: []byte("live")}
	if err := s.Put(ctx, "live", live, 24*time.Hour); err != nil {
		t.Fatalf("Put: %v", err)
	}
	for i := range 3000 {
		key := fmt.Sprint("k", i)
		if _, err := s.Claim(ctx, key, time.Second); err != nil {
			t.Fatalf("Claim(%q): %v", key, err)
		}
		if err := s.Put(ctx, key, live, time.Second); err != nil {
			t.Fatalf("Put(%q): %v", key, err)
		}
		c.Advance(time.Second)
	}
	got, err := s.Get(ctx, "live")
	if err != nil || string(got.Body) != "live" {
		t.Fatalf("Get(live) = %q, %v; want %q", got.Body, err, "live")
	}
	if _, err := s.Claim(ctx, "k0", time.Second); err != nil {
		t.Fatalf("Claim(k0) after expiry: %v", err)
	}
}
