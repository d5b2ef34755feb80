package server_test

import (
	"net/http"
	"testing"

	"github.com/idemsum/idemsum"
	"github.com/idemsum/idemsum/auth"
	"github.com/idemsum/idemsum/server"
)

// accessModes are the token settings an instance can run with during a
// rollout that turns tokens on or off one instance at a time.
var accessModes = map[string]server.Access{
	"no tokens":        {},
	"tokens, optional": {Tokens: func() *auth.Tokens { return testTokens }, AllowAnonymous: true},
	"tokens required":  {Tokens: func() *auth.Tokens { return testTokens }},
}

// TestKeyScopeIsTheSameInEveryMode: whatever the token settings of the
// instance a request reaches, its key is added under one scope, the one
// the request itself names (a valid bearer token's client, else the
// anonymous client), or the request is refused and nothing is touched. A
// retry of one request on instances of a deployment half-way through
// turning tokens on or off can therefore never add its key twice.
func TestKeyScopeIsTheSameInEveryMode(t *testing.T) {
	t.Parallel()
	requests := []struct {
		name, authorization string
		scope               string         // the only scope its key may get
		status              map[string]int // by mode; absent = 200
		reason              map[string]string
	}{
		{name: "no Authorization", scope: "",
			status: map[string]int{"tokens required": http.StatusUnauthorized},
			reason: map[string]string{"tokens required": "missing_token"}},
		{name: "a's token", authorization: "Bearer t-a", scope: "a",
			status: map[string]int{"no tokens": http.StatusServiceUnavailable},
			reason: map[string]string{"no tokens": "tokens_not_checked"}},
		{name: "a's token, lower-case scheme", authorization: "bearer t-a", scope: "a",
			status: map[string]int{"no tokens": http.StatusServiceUnavailable},
			reason: map[string]string{"no tokens": "tokens_not_checked"}},
		{name: "unknown token", authorization: "Bearer t-zz", scope: "-",
			status: map[string]int{"no tokens": http.StatusServiceUnavailable, "tokens, optional": http.StatusUnauthorized, "tokens required": http.StatusUnauthorized},
			reason: map[string]string{"no tokens": "tokens_not_checked", "tokens, optional": "bad_token", "tokens required": "bad_token"}},
		{name: "malformed Bearer", authorization: "Bearer ", scope: "-",
			status: map[string]int{"no tokens": http.StatusServiceUnavailable, "tokens, optional": http.StatusUnauthorized, "tokens required": http.StatusUnauthorized},
			reason: map[string]string{"no tokens": "tokens_not_checked", "tokens, optional": "bad_token", "tokens required": "bad_token"}},
		{name: "Basic credentials (a proxy's)", authorization: "Basic dTpw", scope: "",
			status: map[string]int{"tokens required": http.StatusUnauthorized},
			reason: map[string]string{"tokens required": "bad_token"}},
	}
	for _, rq := range requests {
		for mode, access := range accessModes {
			t.Run(rq.name+"/"+mode, func(t *testing.T) {
				t.Parallel()
				l, s := newLedger(), newStore()
				var denied []string
				r := formBody("/sum", "number=5").withKey("order-1")
				if rq.authorization != "" {
					r = withHeader(r, "Authorization", rq.authorization)
				}
				rec := serve(t, newAccessHandler(l, s, access, &denied), r)
				want, refused := rq.status[mode]
				if !refused {
					assertTotal(t, rec, "5")
					assertAdded(t, l, idemsum.Addition{Client: rq.scope, Key: "order-1", Number: 5})
					return
				}
				assertProblem(t, rec, want)
				assertUntouched(t, l, s)
				if len(denied) != 1 || denied[0] != rq.reason[mode] {
					t.Errorf("denied: got %q, want [%s]", denied, rq.reason[mode])
				}
				if want == http.StatusServiceUnavailable && rec.Header().Get("Retry-After") == "" {
					t.Errorf("503 without Retry-After: another instance may serve it, the client must retry")
				}
			})
		}
	}
}
