package server_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idemsum/idemsum/server"
)

// TestDrain: with a delay, the returned context outlives ctx and draining
// turns true at ctx's end; the hurry context ends the delay; with delay 0
// there is no drain.
func TestDrain(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithCancel(context.Background())
	hurry, cutShort := context.WithCancel(context.Background())
	var draining atomic.Bool
	drained, stop := server.Drain(ctx, hurry, time.Hour, &draining, log)
	defer stop()
	if draining.Load() {
		t.Error("draining before ctx is done")
	}
	cancel()
	for deadline := time.Now().Add(10 * time.Second); !draining.Load(); {
		if time.Now().After(deadline) {
			t.Fatal("not draining 10s after ctx is done")
		}
		time.Sleep(time.Millisecond) // polling with a deadline
	}
	if drained.Err() != nil {
		t.Fatal("drained ended at ctx's end, want it an hour later")
	}
	cutShort()
	select {
	case <-drained.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("drained not done 10s after the hurry context")
	}

	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	if got, _ := server.Drain(ctx, context.Background(), 0, &draining, log); got != ctx {
		t.Error("delay 0: Drain returned another context, want ctx")
	}
}
