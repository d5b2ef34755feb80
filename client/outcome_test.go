package client_test

import (
	"errors"
	"testing"

	"github.com/idemsum/idemsum/client"
)

// TestKeylessRetryFollowsOutcome: an addition without a key is retried
// only after an answer that says nothing was added: the problem's outcome
// member (and type), never its detail. A 5xx that is no idemsum problem,
// a 200 that is no total and a lost answer may have added.
func TestKeylessRetryFollowsOutcome(t *testing.T) {
	t.Parallel()
	const starting = "the service is starting and cannot reach MySQL yet; nothing was added: retry later"
	tests := []struct {
		name    string
		st      step
		retried bool
		outcome string // the *Error's Outcome when not retried ("-": no *Error)
	}{
		{"503-not-added", problem(503, "unavailable", "not-added", starting), true, ""},
		{"503-unknown", problem(503, "outcome-unknown", "unknown", unknownDetail), false, "unknown"},
		{"503-tokens-not-checked", problem(503, "tokens-not-checked", "not-added", "this instance does not check tokens"), true, ""},
		{"detail-nothing-added-outcome-unknown", problem(503, "unavailable", "unknown", starting), false, "unknown"},
		{"detail-unknown-outcome-not-added", problem(503, "unavailable", "not-added", unknownDetail), true, ""},
		{"type-outcome-unknown-wins", problem(503, "outcome-unknown", "not-added", starting), false, "not-added"},
		{"older-sumd-no-outcome", problem(503, "unavailable", "", starting), false, ""},
		{"500-internal", problem(500, "internal", "unknown", "internal error"), false, "unknown"},
		{"502-page", page(502), false, ""},
		{"503-json-not-idemsum", step{status: 503, body: `{"type":"about:blank","outcome":"not-added"}`}, false, ""},
		{"429", page(429), true, ""},
		{"408", problem(408, "request-timeout", "not-added", "body not received"), true, ""},
		{"200-page", page(200), false, "-"},
		{"hang-up", step{hangup: true}, false, "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newScript(t, tt.st.with("Retry-After", "0"), ok("9"))
			res, err := newClient(t, []string{s.srv.URL}).Add(t.Context(), 9, client.WithoutKey())
			got := s.requests()
			for _, r := range got {
				if r.key != "" {
					t.Errorf("sent key %q, want none", r.key)
				}
			}
			if tt.retried {
				if err != nil || res.Total.String() != "9" || len(got) != 2 {
					t.Errorf("got %v, %v after %d requests; want total 9 after a retry", res.Total, err, len(got))
				}
				return
			}
			if !errors.Is(err, client.ErrOutcomeUnknown) || res.Attempts != 1 || len(got) != 1 || res.Total != nil {
				t.Fatalf("got %v after %d attempts (%d requests); want ErrOutcomeUnknown and no retry", err, res.Attempts, len(got))
			}
			var e *client.Error
			if isErr := errors.As(err, &e); isErr != (tt.outcome != "-") || isErr && e.Outcome != tt.outcome {
				t.Errorf("got %#v, want an *Error with outcome %q", e, tt.outcome)
			}
		})
	}
}

// TestKeylessRetriedWhenNothingSent: a connection refused sent nothing.
func TestKeylessRetriedWhenNothingSent(t *testing.T) {
	t.Parallel()
	s := newScript(t, ok("3"))
	res, err := newClient(t, []string{deadURL(t), s.srv.URL}).Add(t.Context(), 3, client.WithoutKey())
	if err != nil || res.Total.String() != "3" {
		t.Fatalf("got %v, %v; want total 3 from the live instance", res.Total, err)
	}
}
