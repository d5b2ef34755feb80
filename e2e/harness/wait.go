package harness

import (
	"context"
	"testing"
	"time"
)

// WaitFor polls cond every 10ms until it holds, d passes or ctx is done,
// and reports whether it held. A caller that goes on either way must look
// at the result: a fault meant for one phase of a test that lands in
// another tests nothing. Await is WaitFor that fails the test.
func WaitFor(ctx context.Context, d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// Await waits until cond holds, failing t (Fatal: call it from the test's
// goroutine) when it does not within d; what names the awaited condition
// in the failure, such as "progress to 25% of the keys".
func Await(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	if !WaitFor(t.Context(), d, cond) {
		t.Fatalf("waited %v for %s: not reached", d, what)
	}
}

// WaitDone waits for the Driver's channel, failing t after d.
func WaitDone(t testing.TB, done <-chan struct{}, d time.Duration) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("load not done within %v", d)
	}
}
