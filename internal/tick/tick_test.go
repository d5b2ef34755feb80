package tick_test

import (
	"context"
	"testing"
	"time"

	"github.com/idemsum/idemsum/internal/tick"
)

// TestEvery: f runs again and again, and Every returns once ctx ends.
func TestEvery(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	calls := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick.Every(ctx, time.Millisecond, func() { calls <- struct{}{} })
	}()
	for range 3 {
		select {
		case <-calls:
		case <-time.After(10 * time.Second):
			t.Fatal("f was not called within 10s")
		}
	}
	cancel()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case <-calls: // a tick that fired before the cancel
		case <-done:
			return
		case <-deadline:
			t.Fatal("Every did not return within 10s of its context ending")
		}
	}
}
