package client_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/idemsum/idemsum/client"
)

const unknownDetail = "storage is unavailable; nothing was added, or the outcome is unknown: retrying with the same idempotency key is safe"

func TestAddRetriesSameKey(t *testing.T) {
	t.Parallel()
	retryZero := func(s step) step { return s.with("Retry-After", "0") }
	tests := []struct {
		name  string
		steps []step
	}{
		{"409", []step{retryZero(problem(409, "in-flight", "not-added", "in flight")), ok("5")}},
		{"503-unknown", []step{retryZero(problem(503, "outcome-unknown", "unknown", unknownDetail)), ok("5")}},
		{"503-older-sumd", []step{retryZero(problem(503, "unavailable", "", unknownDetail)), ok("5")}},
		{"503-not-added", []step{retryZero(problem(503, "unavailable", "not-added", "nothing was added")), ok("5")}},
		{"408", []step{problem(408, "request-timeout", "not-added", "timeout"), ok("5")}},
		{"429", []step{retryZero(page(429)), ok("5")}},
		{"500", []step{problem(500, "internal", "unknown", "internal error"), ok("5")}},
		{"502-page", []step{page(502), ok("5")}},
		{"200-page", []step{page(200), ok("5")}},
		{"200-not-natural", []step{ok("-1"), ok(`"5"`), ok("5.0"), ok("5")}},
		{"hang-up", []step{{hangup: true}, {hangup: true}, ok("5")}},
		{"each-failure", []step{{hangup: true}, problem(408, "request-timeout", "not-added", "t"), retryZero(problem(409, "in-flight", "not-added", "")), retryZero(problem(503, "unavailable", "", unknownDetail)), ok("5")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newScript(t, tt.steps...)
			res, err := newClient(t, []string{s.srv.URL}).Add(t.Context(), 5)
			if err != nil {
				t.Fatalf("Add: %v", err)
			}
			got := s.requests()
			if res.Total.String() != "5" || res.Attempts != len(tt.steps) || len(got) != len(tt.steps) {
				t.Errorf("got total %v after %d attempts (%d requests), want 5 after %d", res.Total, res.Attempts, len(got), len(tt.steps))
			}
			for i, r := range got {
				if r.key != res.Key || r.key == "" || r.body != `{"number":5}` || r.method != "POST" {
					t.Errorf("request %d: %s key %q body %q, want POST key %q body {\"number\":5}", i, r.method, r.key, r.body, res.Key)
				}
			}
		})
	}
}

func TestAddFinalErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status int
		typ    string
		want   error
	}{
		{400, "invalid-input", client.ErrInvalid},
		{413, "body-too-large", client.ErrTooLarge},
		{415, "unsupported-media-type", client.ErrUnsupported},
		{422, "key-reused", client.ErrKeyReused},
		{401, "unauthenticated", client.ErrUnauthorized},
		{403, "cross-origin", client.ErrForbidden},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			t.Parallel()
			s := newScript(t, problem(tt.status, tt.typ, "not-added", "no"), ok("1"))
			res, err := newClient(t, []string{s.srv.URL}).Add(t.Context(), 1, client.WithKey("k"))
			var e *client.Error
			if !errors.Is(err, tt.want) || !errors.As(err, &e) {
				t.Fatalf("got %v, want an *Error matching %v", err, tt.want)
			}
			if e.Status != tt.status || e.Type != "urn:idemsum:problem:"+tt.typ || e.Detail != "no" || e.Outcome != "not-added" {
				t.Errorf("got %+v, want status %d type %s detail no outcome not-added", e, tt.status, tt.typ)
			}
			if errors.Is(err, client.ErrOutcomeUnknown) || res.Attempts != 1 || len(s.requests()) != 1 {
				t.Errorf("got %d attempts (outcome unknown: %v), want 1 and no retry", res.Attempts, errors.Is(err, client.ErrOutcomeUnknown))
			}
		})
	}
}

func TestAddRefusesBadNumberUnsent(t *testing.T) {
	t.Parallel()
	s := newScript(t, ok("1"))
	c := newClient(t, []string{s.srv.URL})
	for _, n := range []uint64{0, client.MaxNumber + 1} {
		if _, err := c.Add(t.Context(), n); !errors.Is(err, client.ErrInvalid) {
			t.Errorf("Add(%d): got %v, want ErrInvalid", n, err)
		}
	}
	if n := len(s.requests()); n != 0 {
		t.Errorf("got %d requests, want none", n)
	}
}

func TestAddMovesAcrossInstances(t *testing.T) {
	t.Parallel()
	a := newScript(t, step{hangup: true})
	b := newScript(t, step{hangup: true})
	dead := deadURL(t)
	c := newScript(t, ok("8"))
	res, err := newClient(t, []string{a.srv.URL, dead, b.srv.URL, c.srv.URL}).Add(t.Context(), 8)
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	if res.Total.String() != "8" || res.Attempts > 7 {
		t.Errorf("got total %v after %d attempts, want 8 within two rounds", res.Total, res.Attempts)
	}
	for _, s := range []*script{a, b, c} {
		for _, r := range s.requests() {
			if r.key != res.Key {
				t.Errorf("got key %q, want the same key %q everywhere", r.key, res.Key)
			}
		}
	}
}

func TestKeyedGiveUpSaysOutcomeUnknown(t *testing.T) {
	t.Parallel()
	s := newScript(t, step{hangup: true})
	res, err := newClient(t, []string{s.srv.URL}, client.WithMaxAttempts(3)).Add(t.Context(), 2)
	if !errors.Is(err, client.ErrOutcomeUnknown) || res.Attempts != 3 || res.Key == "" {
		t.Errorf("got %v after %d attempts, key %q; want ErrOutcomeUnknown after 3 and the key to resume with", err, res.Attempts, res.Key)
	}
}

func TestWithWaitSendsPrefer(t *testing.T) {
	t.Parallel()
	s := newScript(t, ok("1"))
	if _, err := newClient(t, []string{s.srv.URL}).Add(t.Context(), 1, client.WithWait(1500*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if got := s.requests()[0].prefer; got != "wait=2" {
		t.Errorf("got Prefer %q, want wait=2", got)
	}
}

func TestHugeTotalAndReplay(t *testing.T) {
	t.Parallel()
	huge := "123456789012345678901234567890"
	s := newScript(t, ok(huge).with("Idempotent-Replayed", "true"))
	c := newClient(t, []string{s.srv.URL})
	res, err := c.Add(t.Context(), 1, client.WithKey("k1"))
	if err != nil || res.Total.String() != huge || !res.Replayed || res.Key != "k1" {
		t.Errorf("got %+v, %v; want total %s replayed with key k1", res, err, huge)
	}
	total, err := c.Total(t.Context())
	if err != nil || total.String() != huge {
		t.Errorf("Total: got %v, %v, want %s", total, err, huge)
	}
	if r := s.requests()[1]; r.method != "GET" || r.key != "" {
		t.Errorf("Total sent %s with key %q, want GET without a key", r.method, r.key)
	}
}

// TestTotalRetries: a read is retried after any failure, a 200 that is
// not a total included.
func TestTotalRetries(t *testing.T) {
	t.Parallel()
	s := newScript(t, step{hangup: true}, problem(503, "outcome-unknown", "unknown", unknownDetail).with("Retry-After", "0"),
		page(200), page(502), ok("7"))
	total, err := newClient(t, []string{s.srv.URL}).Total(t.Context())
	if err != nil || total.String() != "7" {
		t.Errorf("got %v, %v, want 7", total, err)
	}
}

func TestNewRefusesBadURLs(t *testing.T) {
	t.Parallel()
	for _, urls := range [][]string{nil, {"127.0.0.1:8080"}, {"ftp://x"}, {"http://"}} {
		if _, err := client.New(urls); err == nil {
			t.Errorf("New(%q): got no error, want one", urls)
		}
	}
}

// TestWithTokenSendsBearer: WithToken's token goes with every attempt as
// Authorization: Bearer; without it no Authorization is sent.
func TestWithTokenSendsBearer(t *testing.T) {
	t.Parallel()
	var got []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("Authorization"))
		n := len(got)
		mu.Unlock()
		if n == 1 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"total":1}`)
	}))
	defer srv.Close()
	c, err := client.New([]string{srv.URL}, client.WithToken("isk_abc"), client.WithBackoff(time.Millisecond, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Add(t.Context(), 1, client.WithKey("k")); err != nil {
		t.Fatal(err)
	}
	anon, err := client.New([]string{srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := anon.Total(t.Context()); err != nil {
		t.Fatal(err)
	}
	if want := []string{"Bearer isk_abc", "Bearer isk_abc", ""}; !slices.Equal(got, want) {
		t.Errorf("Authorization of each request: got %q, want %q", got, want)
	}
}
