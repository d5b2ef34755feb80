package client_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/idemsum/idemsum/client"
)

// TestInstanceRetryAfterSkipped: an instance answering 503 (nothing added)
// or 429 with Retry-After is left alone for that long while the others
// serve, even when the Retry-After is longer than the time left.
func TestInstanceRetryAfterSkipped(t *testing.T) {
	t.Parallel()
	for name, st := range map[string]step{
		"503-starting": problem(503, "unavailable", "not-added", "the service is starting; nothing was added: retry later").with("Retry-After", "1"),
		"429":          page(429).with("Retry-After", "1"),
		"429-huge":     page(429).with("Retry-After", "100000"),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			starting := newScript(t, st)
			a, b := newScript(t, ok("1")), newScript(t, ok("1"))
			c, err := client.New([]string{starting.srv.URL, a.srv.URL, b.srv.URL}) // the default backoff
			if err != nil {
				t.Fatal(err)
			}
			failed := 0
			for i := range 20 {
				ctx, cancel := context.WithTimeout(t.Context(), 800*time.Millisecond)
				opts := []client.AddOption{client.WithoutKey()}[:i%2] // keyed and keyless in turn
				if _, err := c.Add(ctx, 1, opts...); err != nil {
					failed++
					t.Logf("Add %d: %v", i, err)
				}
				cancel()
			}
			if failed != 0 {
				t.Errorf("%d of 20 Adds failed, want 0", failed)
			}
		})
	}
}

// TestRetryAfterHonoured: an instance that answered 503 or 429 with
// Retry-After is not asked again before it, and after a 409 the next
// attempt, on whichever instance, waits for its Retry-After (it is about
// the key).
func TestRetryAfterHonoured(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		first     step
		instances int
		keyWide   bool // every attempt waits for the one before's Retry-After
	}{
		{"503-one-instance", problem(503, "unavailable", "not-added", "nothing was added"), 1, true},
		{"429-one-instance", page(429), 1, true},
		{"503-every-instance", problem(503, "outcome-unknown", "unknown", unknownDetail), 2, false},
		{"409-any-instance", problem(409, "in-flight", "not-added", "in flight"), 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var urls []string
			var all []time.Time
			scripts := make([]*script, tt.instances)
			for i := range scripts {
				scripts[i] = newScript(t, tt.first.with("Retry-After", "1"), ok("4"))
				urls = append(urls, scripts[i].srv.URL)
			}
			if _, err := newClient(t, urls).Add(t.Context(), 4); err != nil {
				t.Fatalf("Add: %v", err)
			}
			for _, s := range scripts {
				var at []time.Time
				for _, r := range s.requests() {
					at = append(at, r.at)
				}
				checkGaps(t, at)
				all = append(all, at...)
			}
			if tt.keyWide {
				slices.SortFunc(all, func(a, b time.Time) int { return a.Compare(b) })
				checkGaps(t, all)
			}
		})
	}
}

// checkGaps checks that each request came at least the Retry-After of 1s
// after the one before.
func checkGaps(t *testing.T, at []time.Time) {
	t.Helper()
	for i := 1; i < len(at); i++ {
		if gap := at[i].Sub(at[i-1]); gap < time.Second {
			t.Errorf("got a request %v after the one before, want at least the Retry-After of 1s", gap)
		}
	}
}

// TestHugeRetryAfterCapped: a Retry-After is waited for at most
// MaxRetryAfter (or WithMaxRetryAfter), with or without a deadline; a
// call whose deadline comes before the capped wait stops at once.
func TestHugeRetryAfterCapped(t *testing.T) {
	t.Parallel()
	date := time.Now().Add(1000 * time.Hour).UTC().Format(http.TimeFormat)
	tests := []struct {
		name       string
		retryAfter string
		deadline   time.Duration // 0: none
		max        time.Duration // WithMaxRetryAfter; 0: the default
		want       error         // nil: the retry succeeds
	}{
		{"seconds-no-deadline", "100000", 0, 50 * time.Millisecond, nil},
		{"seconds-deadline", "100000", time.Minute, 50 * time.Millisecond, nil},
		{"date-no-deadline", date, 0, 50 * time.Millisecond, nil},
		{"past-int32", "99999999999", 0, 50 * time.Millisecond, nil},
		{"deadline-before-cap", "100000", 10 * time.Second, 0, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newScript(t, problem(409, "in-flight", "not-added", "in flight").with("Retry-After", tt.retryAfter), ok("2"))
			opts := []client.Option{}
			if tt.max > 0 {
				opts = append(opts, client.WithMaxRetryAfter(tt.max))
			}
			c := newClient(t, []string{s.srv.URL}, opts...)
			ctx := t.Context()
			if tt.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.deadline)
				defer cancel()
			}
			var err error
			within(t, 5*time.Second, func() { _, err = c.Add(ctx, 2) })
			got := s.requests()
			if tt.want == nil && (err != nil || len(got) != 2 || got[1].at.Sub(got[0].at) < tt.max) {
				t.Errorf("got %v after %d requests, want success after waiting %v", err, len(got), tt.max)
			}
			if tt.want != nil && (!errors.Is(err, tt.want) || !errors.Is(err, client.ErrInFlight) || len(got) != 1) {
				t.Errorf("got %v after %d requests, want %v and ErrInFlight at once", err, len(got), tt.want)
			}
		})
	}
}
