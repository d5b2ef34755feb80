package server_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/idemsum/idemsum/auth"
	"github.com/idemsum/idemsum/server"
)

const (
	listed   = "https://app.example"
	unlisted = "https://evil.example"
)

// newCORSHandler is the server with listed as its only allowed origin,
// tokens required (testTokens) when withTokens; denied collects the reasons of refusals.
func newCORSHandler(l *fakeLedger, s *fakeStore, withTokens bool, denied *[]string) http.Handler {
	a := server.Access{AllowedOrigins: []string{listed}}
	if withTokens {
		a.Tokens = func() *auth.Tokens { return testTokens }
	}
	return newAccessHandler(l, s, a, denied)
}

// preflight is the OPTIONS a browser sends before a request of method
// with the headers reqHeaders (Access-Control-Request-Headers) from origin.
func preflight(target, origin, method, reqHeaders string) request {
	h := http.Header{"Origin": {origin}, "Access-Control-Request-Method": {method}, "Sec-Fetch-Site": {"cross-site"}}
	if reqHeaders != "" {
		h.Set("Access-Control-Request-Headers", reqHeaders)
	}
	return request{method: http.MethodOptions, target: target, header: h}
}

// list returns the comma-separated values of every name header in h,
// sorted, in lower case.
func list(h http.Header, name string) []string {
	var out []string
	for _, v := range h.Values(name) {
		for e := range strings.SplitSeq(v, ",") {
			if e = strings.ToLower(strings.TrimSpace(e)); e != "" {
				out = append(out, e)
			}
		}
	}
	slices.Sort(out)
	return out
}

// assertNoCORS checks that rec carries no Access-Control-* header.
func assertNoCORS(tb testing.TB, rec *httptest.ResponseRecorder) {
	tb.Helper()
	for name := range rec.Header() {
		if strings.HasPrefix(name, "Access-Control-") {
			tb.Errorf("%s: got %q, want no Access-Control-* header", name, rec.Header()[name])
		}
	}
}

// TestCORSPreflight: a listed origin's preflight on the adding and
// reading routes is 204 with the CORS headers (only the allowed request
// headers echoed), even when tokens are required (a preflight carries
// none), and adds nothing; another origin's is a 403 cross-origin problem
// without any CORS header.
func TestCORSPreflight(t *testing.T) {
	t.Parallel()
	all := "content-type,idempotency-key,authorization,prefer"
	cases := []struct {
		name        string
		r           request
		auth        bool
		wantHeaders []string // Access-Control-Allow-Headers
	}{
		{"POST /sum", preflight("/sum", listed, "POST", "authorization,content-type,idempotency-key"), true, []string{"authorization", "content-type", "idempotency-key"}},
		{"POST /sum, all headers", preflight("/sum", listed, "POST", all), false, []string{"authorization", "content-type", "idempotency-key", "prefer"}},
		{"GET /sum", preflight("/sum", listed, "GET", "authorization"), true, []string{"authorization"}},
		{"POST /sum, an unknown header", preflight("/sum", listed, "POST", "x-evil, Content-Type"), false, []string{"content-type"}},
		{"POST /sum, no request headers", preflight("/sum", listed, "POST", ""), false, nil},
		{"GET legacy", preflight("/test-sum-action?ikey=k&number=5", listed, "GET", "authorization"), true, []string{"authorization"}},
		{"POST legacy", preflight("/test-sum-action", listed, "POST", "content-type"), true, []string{"content-type"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			l, s := newLedger(), newStore()
			var denied []string
			rec := serve(t, newCORSHandler(l, s, c.auth, &denied), c.r)
			h := rec.Header()
			if rec.Code != http.StatusNoContent || rec.Body.Len() != 0 {
				t.Errorf("status: got %d %q, want 204 without a body", rec.Code, rec.Body)
			}
			checks := []struct {
				name string
				want []string
			}{
				{"Access-Control-Allow-Origin", []string{listed}},
				{"Access-Control-Allow-Methods", []string{"get", "post"}},
				{"Access-Control-Allow-Headers", c.wantHeaders},
				{"Access-Control-Max-Age", []string{"600"}},
				{"Access-Control-Allow-Credentials", nil},
				{"Vary", []string{"access-control-request-headers", "access-control-request-method", "origin"}},
			}
			for _, ch := range checks {
				got := list(h, ch.name)
				if ch.name == "Access-Control-Allow-Origin" {
					got = h.Values(ch.name)
				}
				if !slices.Equal(got, ch.want) {
					t.Errorf("%s: got %q, want %q", ch.name, got, ch.want)
				}
			}
			assertUntouched(t, l, s)
			if len(denied) != 0 {
				t.Errorf("denied: got %q, want none", denied)
			}
		})
	}
}

// TestCORSPreflightRefused: a preflight from an origin not listed (or
// from null, a sandboxed page) gets the 403 cross-origin problem and no
// CORS header, so the browser never sends the request.
func TestCORSPreflightRefused(t *testing.T) {
	t.Parallel()
	for _, r := range []request{
		preflight("/sum", unlisted, "POST", "content-type,idempotency-key"),
		preflight("/sum", "null", "POST", "content-type"),
		preflight("/sum", listed+":8443", "POST", "content-type"),
		preflight("/test-sum-action", unlisted, "GET", "authorization"),
	} {
		t.Run(r.target+" "+r.header.Get("Origin"), func(t *testing.T) {
			t.Parallel()
			l, s := newLedger(), newStore()
			var denied []string
			rec := serve(t, newCORSHandler(l, s, true, &denied), r)
			assertProblem(t, rec, http.StatusForbidden)
			if !strings.Contains(rec.Body.String(), "urn:idemsum:problem:cross-origin") {
				t.Errorf("problem type: got %s, want cross-origin", rec.Body)
			}
			assertNoCORS(t, rec)
			assertUntouched(t, l, s)
			if len(denied) != 1 || denied[0] != "cross_origin" {
				t.Errorf("denied: got %q, want [cross_origin]", denied)
			}
		})
	}
}

// TestOptionsWithoutPreflight: an OPTIONS that is not a preflight (no
// Origin, or no Access-Control-Request-Method) is 204 with Allow; it is
// an actual response, so a listed Origin gets its CORS headers.
func TestOptionsWithoutPreflight(t *testing.T) {
	t.Parallel()
	cases := []struct {
		target, origin string
		allow          []string
	}{
		{"/sum", "", []string{"GET", "HEAD", "OPTIONS", "POST"}},
		{"/test-sum-action", "", []string{"GET", "OPTIONS", "POST"}},
		{"/sum", unlisted, []string{"GET", "HEAD", "OPTIONS", "POST"}},
		{"/sum", listed, []string{"GET", "HEAD", "OPTIONS", "POST"}},
	}
	for _, c := range cases {
		t.Run(c.target+" "+c.origin, func(t *testing.T) {
			t.Parallel()
			l, s := newLedger(), newStore()
			var denied []string
			r := request{method: http.MethodOptions, target: c.target}
			if c.origin != "" {
				r = withHeader(r, "Origin", c.origin)
			}
			rec := serve(t, newCORSHandler(l, s, true, &denied), r)
			if rec.Code != http.StatusNoContent {
				t.Errorf("status: got %d %q, want 204", rec.Code, rec.Body)
			}
			if got := allowed(rec.Header().Get("Allow")); !slices.Equal(got, c.allow) {
				t.Errorf("Allow: got %q, want %q", got, c.allow)
			}
			if got := rec.Header().Get("Access-Control-Allow-Origin"); c.origin == listed && got != listed {
				t.Errorf("Access-Control-Allow-Origin: got %q, want %q", got, listed)
			}
			if c.origin != listed {
				assertNoCORS(t, rec)
			}
			assertUntouched(t, l, s)
		})
	}
}

// TestCORSActualResponses: every answer to a listed origin, success or
// problem, names the origin, varies on Origin and exposes the headers a
// client reads; an origin not listed gets no CORS header at all.
func TestCORSActualResponses(t *testing.T) {
	t.Parallel()
	add := withHeader(jsonBody("/sum", `{"number":5}`).withKey("k"), "Authorization", "Bearer t-a")
	cases := []struct {
		name   string
		setup  func(*fakeLedger, *fakeStore)
		before []request
		r      request
		auth   bool
		status int
	}{
		{"added", nil, nil, add, true, http.StatusOK},
		{"replayed", nil, []request{add}, add, true, http.StatusOK},
		{"read", nil, nil, request{method: http.MethodGet, target: "/sum"}, false, http.StatusOK},
		{"legacy GET", nil, nil, request{method: http.MethodGet, target: "/test-sum-action?ikey=k&number=5"}, false, http.StatusOK},
		{"invalid", nil, nil, jsonBody("/sum", `{"number":0}`), false, http.StatusBadRequest},
		{"no token", nil, nil, jsonBody("/sum", `{"number":5}`), true, http.StatusUnauthorized},
		{"in flight", func(_ *fakeLedger, s *fakeStore) { s.inFlight = true }, nil, add, true, http.StatusConflict},
		{"MySQL down", func(l *fakeLedger, _ *fakeStore) { l.SetErr(errDown) }, nil, add, true, http.StatusServiceUnavailable},
		{"method not allowed", nil, nil, request{method: http.MethodPut, target: "/sum"}, false, http.StatusMethodNotAllowed},
	}
	for _, c := range cases {
		for _, origin := range []string{listed, unlisted} {
			t.Run(c.name+" "+origin, func(t *testing.T) {
				t.Parallel()
				l, s := newLedger(), newStore()
				if c.setup != nil {
					c.setup(l, s)
				}
				var denied []string
				h := newCORSHandler(l, s, c.auth, &denied)
				for _, r := range c.before {
					serve(t, h, withHeader(r, "Origin", origin))
				}
				rec := serve(t, h, withHeader(c.r, "Origin", origin))
				if origin == unlisted {
					assertNoCORS(t, rec)
					return
				}
				if rec.Code != c.status {
					t.Errorf("status: got %d, want %d (%s)", rec.Code, c.status, rec.Body)
				}
				assertCORS(t, rec)
			})
		}
	}
}

// assertCORS checks the CORS headers of an actual response to listed.
func assertCORS(tb testing.TB, rec *httptest.ResponseRecorder) {
	tb.Helper()
	h := rec.Header()
	if got := h.Values("Access-Control-Allow-Origin"); !slices.Equal(got, []string{listed}) {
		tb.Errorf("Access-Control-Allow-Origin: got %q, want %q", got, listed)
	}
	if got := list(h, "Vary"); !slices.Contains(got, "origin") {
		tb.Errorf("Vary: got %q, want Origin", got)
	}
	want := []string{"idempotency-key-expires", "idempotent-replayed", "preference-applied", "retry-after", "www-authenticate"}
	if got := list(h, "Access-Control-Expose-Headers"); !slices.Equal(got, want) {
		tb.Errorf("Access-Control-Expose-Headers: got %q, want %q", got, want)
	}
	if got := h.Values("Access-Control-Allow-Credentials"); got != nil {
		tb.Errorf("Access-Control-Allow-Credentials: got %q, want none (tokens travel in Authorization)", got)
	}
}
