package client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/idemsum/idemsum/client"
)

// TestDeadlineCutsAttemptInFlight: the context's deadline passes while an
// attempt waits for its answer. The error wraps context.DeadlineExceeded
// and the last failure that was answered (here ErrInFlight); and, for an
// addition, ErrOutcomeUnknown: the cut request was sent and may have
// added. The deadline is cut when the server holds the request, so the
// cut is certain whatever the machine's load.
func TestDeadlineCutsAttemptInFlight(t *testing.T) {
	t.Parallel()
	inFlight := problem(409, "in-flight", "not-added", "in flight").with("Retry-After", "0")
	tests := []struct {
		name         string
		steps        []step
		opts         []client.AddOption
		read         bool // Total, not Add
		wantInFlight bool
	}{
		{"keyed-after-409s", []step{inFlight, inFlight, {hang: true}}, nil, false, true},
		{"keyed-first", []step{{hang: true}}, nil, false, false},
		{"keyless-first", []step{{hang: true}}, []client.AddOption{client.WithoutKey()}, false, false},
		{"read-after-503", []step{problem(503, "unavailable", "not-added", "x").with("Retry-After", "0"), {hang: true}}, nil, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newScript(t, tt.steps...)
			ctx := newExpiring()
			go func() {
				<-s.hung
				ctx.expire()
			}()
			c := newClient(t, []string{s.srv.URL})
			var err error
			attempts := len(tt.steps)
			if tt.read {
				_, err = c.Total(ctx)
			} else {
				var res client.Result
				res, err = c.Add(ctx, 2, tt.opts...)
				attempts = res.Attempts
			}
			if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, client.ErrInFlight) != tt.wantInFlight {
				t.Errorf("got %v, want DeadlineExceeded (and ErrInFlight: %v)", err, tt.wantInFlight)
			}
			if errors.Is(err, client.ErrOutcomeUnknown) == tt.read || attempts != len(tt.steps) || len(s.requests()) != len(tt.steps) {
				t.Errorf("got outcome unknown %v after %d attempts (%d requests); want %v after %d", errors.Is(err, client.ErrOutcomeUnknown),
					attempts, len(s.requests()), !tt.read, len(tt.steps))
			}
		})
	}
}

// TestDeadlineStopsBetweenAttempts: a call whose deadline comes before
// the next attempt may start stops at once. The error wraps
// context.DeadlineExceeded and the last answered failure; and
// ErrOutcomeUnknown only if an attempt may have added (here a hang-up
// after the request was sent).
func TestDeadlineStopsBetweenAttempts(t *testing.T) {
	t.Parallel()
	later := func(s step) step { return s.with("Retry-After", "20") }
	tests := []struct {
		name        string
		steps       []step
		want        error
		wantUnknown bool
	}{
		{"409", []step{later(problem(409, "in-flight", "not-added", "in flight"))}, client.ErrInFlight, false},
		{"503-not-added", []step{later(problem(503, "unavailable", "not-added", "nothing was added"))}, client.ErrUnavailable, false},
		{"hang-up-then-409", []step{{hangup: true}, later(problem(409, "in-flight", "not-added", "in flight"))}, client.ErrInFlight, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newScript(t, tt.steps...)
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			c := newClient(t, []string{s.srv.URL})
			var res client.Result
			var err error
			within(t, 5*time.Second, func() { res, err = c.Add(ctx, 2) })
			if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, tt.want) || errors.Is(err, client.ErrOutcomeUnknown) != tt.wantUnknown {
				t.Errorf("got %v, want DeadlineExceeded, %v and outcome unknown %v", err, tt.want, tt.wantUnknown)
			}
			if res.Attempts != len(tt.steps) {
				t.Errorf("got %d attempts, want %d", res.Attempts, len(tt.steps))
			}
		})
	}
}

// TestAttemptTimeoutMovesOn: a frozen instance costs one attempt timeout,
// then the next instance is tried.
func TestAttemptTimeoutMovesOn(t *testing.T) {
	t.Parallel()
	frozen := newScript(t, step{hang: true})
	live := newScript(t, ok("6"))
	c := newClient(t, []string{frozen.srv.URL, live.srv.URL}, client.WithAttemptTimeout(200*time.Millisecond))
	for range 2 { // one starts at each instance
		res, err := c.Add(t.Context(), 6)
		if err != nil || res.Total.String() != "6" {
			t.Fatalf("got %v, %v; want total 6 from the live instance", res.Total, err)
		}
	}
	if len(frozen.requests()) == 0 {
		t.Errorf("the frozen instance got no request, want one")
	}
}

// TestAttemptTimeoutIsNotTheDeadline: attempts cut by WithAttemptTimeout
// end the call only through WithMaxAttempts; its error does not claim the
// context's deadline passed.
func TestAttemptTimeoutIsNotTheDeadline(t *testing.T) {
	t.Parallel()
	frozen := newScript(t, step{hang: true})
	c := newClient(t, []string{frozen.srv.URL}, client.WithAttemptTimeout(50*time.Millisecond), client.WithMaxAttempts(2))
	res, err := c.Add(t.Context(), 6)
	if errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, client.ErrOutcomeUnknown) || res.Attempts != 2 {
		t.Errorf("got %v after %d attempts; want ErrOutcomeUnknown after 2, not DeadlineExceeded", err, res.Attempts)
	}
}
