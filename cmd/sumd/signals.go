package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// interrupts returns a context that is done at the first SIGINT or
// SIGTERM and that carries (withHurry) one done at the second, which cuts
// a drain short (server.Drain; docs/operations.md#shutdown-and-drain). stop stops
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
