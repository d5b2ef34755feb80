package server

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"
)

// Drain returns a context that is done delay after ctx is (or when hurry
// is done, if sooner), and from ctx's end on makes draining report true,
// so that /readyz answers 503 "draining" (Deps.Draining) while requests
// are still served and a load balancer takes the instance out of
// rotation before its listener closes: pass the result to
// HTTPServer.Wait (docs/operations.md#shutdown-and-drain). With delay 0
// it returns ctx. stop ends the drain's goroutine if ctx is never done.
func Drain(ctx, hurry context.Context, delay time.Duration, draining *atomic.Bool, log *slog.Logger) (drained context.Context, stop func()) {
	if delay <= 0 {
		return ctx, func() {}
	}
	drained, cancel := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		defer cancel()
		select {
		case <-ctx.Done():
		case <-drained.Done():
			return
		}
		draining.Store(true)
		log.Info("draining: /readyz answers 503 while requests are still served; a second signal ends it", "delay", delay.String())
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-hurry.Done():
			log.Info("draining cut short by a second signal")
		case <-drained.Done():
		}
	}()
	return drained, cancel
}
