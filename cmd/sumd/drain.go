package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

// interrupts returns a context that is done at the first SIGINT or
// SIGTERM and that carries (withHurry) one done at the second, which cuts
// a drain short (docs/operations.md#shutdown-and-drain). stop stops
// listening for the signals.
func interrupts() (ctx context.Context, stop func()) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	first, stopFirst := context.WithCancel(context.Background())
	second, stopSecond := context.WithCancel(context.Background())
	go func() {
		for _, cancel := range []context.CancelFunc{stopFirst, stopSecond} {
			select {
			case <-sigs:
				cancel()
			case <-second.Done():
				return
			}
		}
	}()
	return withHurry(first, second), func() { signal.Stop(sigs); stopSecond(); stopFirst() }
}

type hurryKey struct{}

// withHurry returns ctx carrying hurry: once hurry is done, a drain that
// ctx's end began ends at once.
func withHurry(ctx, hurry context.Context) context.Context {
	return context.WithValue(ctx, hurryKey{}, hurry)
}

// hurryOf returns the hurry context ctx carries (withHurry); without one,
// a context that is never done.
func hurryOf(ctx context.Context) context.Context {
	if h, ok := ctx.Value(hurryKey{}).(context.Context); ok {
		return h
	}
	return context.Background()
}

// drain returns a context that is done delay after ctx is (or when ctx's
// hurry context is done, if sooner), and from ctx's end on makes draining
// report true, so that /readyz answers 503 "draining" while requests are
// still served and a load balancer takes the instance out of rotation
// before its listener closes (docs/operations.md#shutdown-and-drain).
// With delay 0 it returns ctx. stop ends the drain's goroutine if ctx is
// never done.
func drain(ctx context.Context, delay time.Duration, draining *atomic.Bool, log *slog.Logger) (drained context.Context, stop func()) {
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
		case <-hurryOf(ctx).Done():
			log.Info("draining cut short by a second signal")
		case <-drained.Done():
		}
	}()
	return drained, cancel
}
