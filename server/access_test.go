package server_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/idemsum/idemsum"
	"github.com/idemsum/idemsum/auth"
	"github.com/idemsum/idemsum/server"
)

// testTokens are the clients a and b, whose tokens are "t-a" and "t-b".
var testTokens = func() *auth.Tokens {
	t, err := auth.Parse(strings.NewReader(auth.Line("a", "t-a")+"\n"+auth.Line("b", "t-b")+"\n"), "tokens")
	if err != nil {
		panic(err)
	}
	return t
}()

// newAuthHandler is newHandler with tokens required (testTokens); denied
// collects the reasons of refused requests.
func newAuthHandler(l *fakeLedger, s *fakeStore, denied *[]string) http.Handler {
	return newAccessHandler(l, s, server.Access{Tokens: func() *auth.Tokens { return testTokens }}, denied)
}

// newAccessHandler is newHandler with a, whose OnDenied collects the
// reasons of refused requests in denied.
func newAccessHandler(l *fakeLedger, s *fakeStore, a server.Access, denied *[]string) http.Handler {
	d := deps(l, s)
	a.OnDenied = func(r string) { *denied = append(*denied, r) }
	d.Access = a
	return server.NewServer(d)
}

func withHeader(r request, name, value string) request {
	r.header = r.header.Clone()
	if r.header == nil {
		r.header = http.Header{}
	}
	r.header.Set(name, value)
	return r
}

// TestTokensAreCheckedBeforeAnything: with tokens required, a request
// without one or with a wrong one gets 401 with a Bearer challenge, on
// every route that adds or reads, before the key is looked up or anything
// is read; nothing is cached, so the same key with a token adds.
func TestTokensAreCheckedBeforeAnything(t *testing.T) {
	t.Parallel()
	routes := []request{
		formBody("/sum", "number=5").withKey("k"),
		jsonBody("/sum", `{"number":5}`).withKey("k"),
		{method: http.MethodGet, target: "/sum"},
		{method: http.MethodGet, target: "/test-sum-action?ikey=k&number=5"},
		formBody("/test-sum-action", "ikey=k&number=5"),
		formBody("/sum", "number=oops").withKey("k"), // refused before the input is read
	}
	auths := []struct {
		header, reason, challenge string
	}{
		{"", "missing_token", `Bearer realm="idemsum"`},
		{"Bearer wrong", "bad_token", `Bearer realm="idemsum", error="invalid_token"`},
		{"Basic dTpw", "bad_token", `Bearer realm="idemsum", error="invalid_token"`},
	}
	for _, rt := range routes {
		for _, a := range auths {
			t.Run(rt.method+" "+rt.target+" "+a.header, func(t *testing.T) {
				t.Parallel()
				l, s := newLedger(), newStore()
				var denied []string
				h := newAuthHandler(l, s, &denied)
				r := rt
				if a.header != "" {
					r = withHeader(r, "Authorization", a.header)
				}
				rec := serve(t, h, r)
				assertProblem(t, rec, http.StatusUnauthorized)
				if got := rec.Header().Get("WWW-Authenticate"); got != a.challenge {
					t.Errorf("WWW-Authenticate: got %q, want %q", got, a.challenge)
				}
				if got := rec.Header().Get("Cache-Control"); got != "no-store" {
					t.Errorf("Cache-Control: got %q, want no-store", got)
				}
				if !strings.Contains(rec.Body.String(), "urn:idemsum:problem:unauthenticated") {
					t.Errorf("problem type: got %s", rec.Body)
				}
				assertUntouched(t, l, s)
				if len(denied) != 1 || denied[0] != a.reason {
					t.Errorf("denied: got %q, want [%s]", denied, a.reason)
				}
			})
		}
	}
}

// TestKeysAreScopedPerClient: the same key from two clients is two
// additions, each client's retry replays its own, and the Store holds the
// key under each client's scope.
func TestKeysAreScopedPerClient(t *testing.T) {
	t.Parallel()
	l, s := newLedger(), newStore()
	var denied []string
	h := newAuthHandler(l, s, &denied)
	send := func(client, number string) *httptest.ResponseRecorder {
		return serve(t, h, withHeader(formBody("/sum", "number="+number).withKey("order-1"), "Authorization", "Bearer t-"+client))
	}
	assertTotal(t, send("a", "5"), "5")
	assertTotal(t, send("b", "7"), "12")
	again := send("a", "5")
	assertTotal(t, again, "5")
	if again.Header().Get("Idempotent-Replayed") != "true" {
		t.Errorf("a's retry: got no Idempotent-Replayed, want a replay")
	}
	assertProblem(t, send("b", "5"), http.StatusUnprocessableEntity) // b's key holds 7
	assertAdded(t, l,
		idemsum.Addition{Client: "a", Key: "order-1", Number: 5},
		idemsum.Addition{Client: "b", Key: "order-1", Number: 7})
	for _, k := range []string{"a order-1", "b order-1"} {
		if _, ok := s.recs[k]; !ok {
			t.Errorf("store: no record under %q (has %v)", k, s.recs)
		}
	}
	if len(denied) != 0 {
		t.Errorf("denied: got %q, want none", denied)
	}
}

// TestAnonymousKeysKeepTheirNames: without tokens every request is the
// anonymous client, whose keys the Store holds under the key itself, as
// before keys had scopes (instances of the previous version share them).
func TestAnonymousKeysKeepTheirNames(t *testing.T) {
	t.Parallel()
	l, s := newLedger(), newStore()
	h := newHandler(t, l, s)
	assertTotal(t, serve(t, h, formBody("/sum", "number=5").withKey("order-1")), "5")
	if _, ok := s.recs["order-1"]; !ok || len(s.recs) != 1 {
		t.Errorf("store records: got %v, want one under %q", s.recs, "order-1")
	}
	assertAdded(t, l, idemsum.Addition{Key: "order-1", Number: 5})
}

// TestCrossOriginWritesAreRefused: a browser request from another site
// that could add (a form POST, or the legacy URL's GET) is 403 and
// changes nothing, as is one from an older browser that tells only a
// foreign (or malformed) Referer; the service's own origin, a listed
// origin, requests without browser headers and cross-site reads pass.
func TestCrossOriginWritesAreRefused(t *testing.T) {
	t.Parallel()
	post := formBody("/sum", "number=5")
	legacy := request{method: http.MethodGet, target: "/test-sum-action?number=5"}
	read := request{method: http.MethodGet, target: "/sum"}
	cases := []struct {
		name    string
		r       request
		headers map[string]string
		want    int
	}{
		{"form from another site", post, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"form, Origin only", post, map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		{"form, Origin null", post, map[string]string{"Origin": "null"}, http.StatusForbidden},
		{"form from a sibling site", post, map[string]string{"Sec-Fetch-Site": "same-site"}, http.StatusForbidden},
		{"legacy GET from another site", legacy, map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"legacy POST from another site", formBody("/test-sum-action", "number=5"), map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		{"the page itself", post, map[string]string{"Origin": "http://example.com", "Sec-Fetch-Site": "same-origin"}, http.StatusOK},
		{"own origin, old browser", post, map[string]string{"Origin": "http://example.com"}, http.StatusOK},
		{"typed into the address bar", legacy, map[string]string{"Sec-Fetch-Site": "none"}, http.StatusOK},
		{"curl", post, nil, http.StatusOK},
		{"a listed origin", post, map[string]string{"Origin": "https://app.example", "Sec-Fetch-Site": "cross-site"}, http.StatusOK},
		{"a read from another site", read, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, http.StatusOK},
		{"form, foreign Referer only", post, map[string]string{"Referer": "https://evil.example/page"}, http.StatusForbidden},
		{"legacy GET, foreign Referer only", legacy, map[string]string{"Referer": "https://evil.example/page"}, http.StatusForbidden},
		{"legacy POST, foreign Referer only", formBody("/test-sum-action", "number=5"), map[string]string{"Referer": "http://evil.example/"}, http.StatusForbidden},
		{"legacy GET, Referer on another port", legacy, map[string]string{"Referer": "http://example.com:8080/"}, http.StatusForbidden},
		{"legacy GET, malformed Referer", legacy, map[string]string{"Referer": "http://[::1/"}, http.StatusForbidden},
		{"legacy GET, Referer without a host", legacy, map[string]string{"Referer": "about:blank"}, http.StatusForbidden},
		{"legacy GET, own Referer", legacy, map[string]string{"Referer": "http://example.com/page?x=1"}, http.StatusOK},
		{"form, listed Referer", post, map[string]string{"Referer": "https://app.example/checkout"}, http.StatusOK},
		{"foreign Referer, Sec-Fetch-Site decides", legacy, map[string]string{"Referer": "https://evil.example/", "Sec-Fetch-Site": "same-origin"}, http.StatusOK},
		{"foreign Referer, Origin decides", post, map[string]string{"Referer": "https://evil.example/", "Origin": "http://example.com"}, http.StatusOK},
		{"a read with a foreign Referer", read, map[string]string{"Referer": "https://evil.example/"}, http.StatusOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			l, s := newLedger(), newStore()
			d := deps(l, s)
			var denied []string
			d.Access = server.Access{AllowedOrigins: []string{"https://app.example"}, OnDenied: func(r string) { denied = append(denied, r) }}
			h := server.NewServer(d)
			r := c.r
			for k, v := range c.headers {
				r = withHeader(r, k, v)
			}
			rec := serve(t, h, r)
			if c.want != http.StatusOK {
				assertProblem(t, rec, c.want)
				assertUntouched(t, l, s)
				if len(denied) != 1 || denied[0] != "cross_origin" {
					t.Errorf("denied: got %q, want [cross_origin]", denied)
				}
				return
			}
			if rec.Code != http.StatusOK {
				t.Errorf("status: got %d, want 200 (%s)", rec.Code, rec.Body)
			}
		})
	}
}

// TestCheckOrigins refuses what is not an origin.
func TestCheckOrigins(t *testing.T) {
	t.Parallel()
	if err := server.CheckOrigins([]string{"https://a.example", "http://b.example:8080"}); err != nil {
		t.Errorf("good origins: got %v", err)
	}
	for _, bad := range []string{"a.example", "https://a.example/path", "https://a.example?q=1",
		"https://App.example", "HTTPS://a.example", "https://a.example:443", "http://a.example:80"} {
		if err := server.CheckOrigins([]string{bad}); err == nil {
			t.Errorf("%q: got nil, want an error", bad)
		}
	}
}
