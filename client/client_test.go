package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"idemsum/client"
)

// step is one scripted answer: a status with headers and a body, or a
// connection hung up after the request was read (hangup), or an answer
// held back until the client gives up (hang).
type step struct {
	status int
	header map[string]string
	body   string
	hangup bool
	hang   bool
}

func ok(total string) step { return step{status: 200, body: `{"total":` + total + "}\n"} }

func problem(status int, typ, detail string) step {
	return step{status: status, body: fmt.Sprintf(`{"type":"urn:idemsum:problem:%s","title":%q,"status":%d,"detail":%q}`,
		typ, http.StatusText(status), status, detail)}
}

func (s step) with(k, v string) step {
	h := map[string]string{k: v}
	for k, v := range s.header {
		h[k] = v
	}
	s.header = h
	return s
}

const unknownDetail = "storage is unavailable; nothing was added, or the outcome is unknown: retrying with the same idempotency key is safe"

// seen is a request as the scripted server got it.
type seen struct {
	at                time.Time
	method, key, body string
	prefer            string
}

// script is a server answering with its steps in turn (the last one
// again once they run out) and recording what it got.
type script struct {
	mu    sync.Mutex
	steps []step
	got   []seen
	srv   *httptest.Server
}

func newScript(t testing.TB, steps ...step) *script {
	t.Helper()
	s := &script{steps: steps}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *script) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	st := s.steps[min(len(s.got), len(s.steps)-1)]
	s.got = append(s.got, seen{time.Now(), r.Method, r.Header.Get("Idempotency-Key"), readAll(r), r.Header.Get("Prefer")})
	s.mu.Unlock()
	switch {
	case st.hangup:
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
		return
	case st.hang:
		<-r.Context().Done()
		return
	}
	for k, v := range st.header {
		w.Header().Set(k, v)
	}
	if st.status == 200 {
		w.Header().Set("Content-Type", "application/json")
	} else {
		w.Header().Set("Content-Type", "application/problem+json")
	}
	w.WriteHeader(st.status)
	fmt.Fprint(w, st.body)
}

func (s *script) requests() []seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seen(nil), s.got...)
}

// deadURL returns a URL where nothing listens.
func deadURL(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	return "http://" + ln.Addr().String()
}

func newClient(t testing.TB, urls []string, opts ...client.Option) *client.Client {
	t.Helper()
	opts = append([]client.Option{client.WithBackoff(time.Millisecond, 5*time.Millisecond)}, opts...)
	c, err := client.New(urls, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAddRetriesSameKey(t *testing.T) {
	t.Parallel()
	retryZero := func(s step) step { return s.with("Retry-After", "0") }
	tests := []struct {
		name  string
		steps []step
	}{
		{"409", []step{retryZero(problem(409, "in-flight", "in flight")), ok("5")}},
		{"503", []step{retryZero(problem(503, "unavailable", unknownDetail)), ok("5")}},
		{"408", []step{problem(408, "request-timeout", "timeout"), ok("5")}},
		{"500", []step{problem(500, "internal", "internal error"), ok("5")}},
		{"hang-up", []step{{hangup: true}, {hangup: true}, ok("5")}},
		{"each-failure", []step{{hangup: true}, problem(408, "request-timeout", "t"), retryZero(problem(409, "in-flight", "")), retryZero(problem(503, "unavailable", unknownDetail)), ok("5")}},
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
			s := newScript(t, problem(tt.status, tt.typ, "no"), ok("1"))
			res, err := newClient(t, []string{s.srv.URL}).Add(t.Context(), 1, client.WithKey("k"))
			var e *client.Error
			if !errors.Is(err, tt.want) || !errors.As(err, &e) {
				t.Fatalf("got %v, want an *Error matching %v", err, tt.want)
			}
			if e.Status != tt.status || e.Type != "urn:idemsum:problem:"+tt.typ || e.Detail != "no" {
				t.Errorf("got %+v, want status %d type %s detail no", e, tt.status, tt.typ)
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

func TestKeylessOutcomeUnknownNotRetried(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		st   step
	}{
		{"hang-up", step{hangup: true}},
		{"503-unknown", problem(503, "unavailable", unknownDetail).with("Retry-After", "0")},
		{"500", problem(500, "internal", "internal error")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newScript(t, tt.st, ok("9"))
			res, err := newClient(t, []string{s.srv.URL}).Add(t.Context(), 9, client.WithoutKey())
			if !errors.Is(err, client.ErrOutcomeUnknown) {
				t.Fatalf("got %v, want ErrOutcomeUnknown", err)
			}
			got := s.requests()
			if res.Attempts != 1 || len(got) != 1 || got[0].key != "" || res.Key != "" {
				t.Errorf("got %d attempts, %d requests, key %q, want 1 request without a key", res.Attempts, len(got), got[0].key)
			}
		})
	}
}

func TestKeylessRetriedWhenNothingAdded(t *testing.T) {
	t.Parallel()
	s := newScript(t,
		problem(503, "unavailable", "the service is starting and cannot reach MySQL yet; nothing was added: retry later").with("Retry-After", "0"),
		problem(408, "request-timeout", "body not received"),
		ok("3"))
	// The dead instance refuses the connection: nothing was sent.
	res, err := newClient(t, []string{deadURL(t), s.srv.URL}).Add(t.Context(), 3, client.WithoutKey())
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	if n := len(s.requests()); res.Total.String() != "3" || n != 3 {
		t.Errorf("got total %v with %d requests to the live instance, want 3 with 3", res.Total, n)
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

func TestAddHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	s := newScript(t, problem(503, "unavailable", unknownDetail).with("Retry-After", "1"), ok("4"))
	if _, err := newClient(t, []string{s.srv.URL}).Add(t.Context(), 4); err != nil {
		t.Fatalf("Add: %v", err)
	}
	got := s.requests()
	if gap := got[1].at.Sub(got[0].at); gap < time.Second {
		t.Errorf("got the retry %v after the 503, want at least its Retry-After of 1s", gap)
	}
}

func TestAddRespectsDeadline(t *testing.T) {
	t.Parallel()
	s := newScript(t, problem(409, "in-flight", "in flight").with("Retry-After", "0"))
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := newClient(t, []string{s.srv.URL}).Add(ctx, 2)
	if took := time.Since(start); took > time.Second {
		t.Errorf("Add took %v, want it to end near its 300ms deadline", took)
	}
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, client.ErrInFlight) {
		t.Errorf("got %v, want DeadlineExceeded and the last failure, ErrInFlight", err)
	}
	if errors.Is(err, client.ErrOutcomeUnknown) || res.Attempts < 2 {
		t.Errorf("got %d attempts, outcome unknown %v; want several 409s, and a known outcome (409s add nothing)", res.Attempts, errors.Is(err, client.ErrOutcomeUnknown))
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

func TestAttemptTimeoutMovesOn(t *testing.T) {
	t.Parallel()
	frozen := newScript(t, step{hang: true})
	live := newScript(t, ok("6"))
	c := newClient(t, []string{frozen.srv.URL, live.srv.URL}, client.WithAttemptTimeout(100*time.Millisecond))
	for range 2 { // whichever instance it starts at
		res, err := c.Add(t.Context(), 6)
		if err != nil || res.Total.String() != "6" {
			t.Fatalf("got %v, %v; want total 6 from the live instance", res.Total, err)
		}
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

func TestTotalRetries(t *testing.T) {
	t.Parallel()
	s := newScript(t, step{hangup: true}, problem(503, "unavailable", unknownDetail).with("Retry-After", "0"), ok("7"))
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
