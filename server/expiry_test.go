package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/idemsum/idemsum/idempotency"
)

// TestKeyExpiryPublished: every keyed 200, the first and its replays, on
// every route and in every store mode, says until when the key is
// remembered: its first commit (the ledger's Created) plus the key TTL
// (an hour in these tests), as an HTTP-date. A keyless addition has no
// key, hence no expiry.
func TestKeyExpiryPublished(t *testing.T) {
	t.Parallel()
	const ttl = time.Hour // deps' Guard
	for _, mode := range storeModes {
		for _, route := range keyedRoutes {
			t.Run(mode.name+"/"+route.name, func(t *testing.T) {
				t.Parallel()
				h := newHandler(t, newLedger(), mode.store())
				before := time.Now().Truncate(time.Second)
				first := serve(t, h, route.req("K", 5))
				after := time.Now()
				again := serve(t, h, route.req("K", 5))
				exp := expiry(t, first)
				if exp.Before(before.Add(ttl)) || exp.After(after.Add(ttl)) {
					t.Fatalf("first answer: %s %v, want the commit time plus %v, between %v and %v", idempotency.HeaderExpires, exp, ttl, before.Add(ttl), after.Add(ttl))
				}
				if got := expiry(t, again); !got.Equal(exp) || again.Header().Get("Idempotent-Replayed") != "true" {
					t.Fatalf("replay: %s %v (replayed %q), want the first answer's %v", idempotency.HeaderExpires, got, again.Header().Get("Idempotent-Replayed"), exp)
				}
			})
		}
	}
	t.Run("keyless", func(t *testing.T) {
		t.Parallel()
		rec := serve(t, newHandler(t, newLedger(), newStore()), request{method: http.MethodPost, target: "/sum?number=5"})
		if got := rec.Header().Values(idempotency.HeaderExpires); rec.Code != http.StatusOK || len(got) != 0 {
			t.Fatalf("keyless addition: %d with %s %q, want 200 without it", rec.Code, idempotency.HeaderExpires, got)
		}
	})
}

// expiry returns rec's Idempotency-Key-Expires, failing tb unless rec is a
// 200 carrying one HTTP-date.
func expiry(tb testing.TB, rec interface {
	Result() *http.Response
}) time.Time {
	tb.Helper()
	res := rec.Result()
	v := res.Header.Values(idempotency.HeaderExpires)
	if res.StatusCode != http.StatusOK || len(v) != 1 {
		tb.Fatalf("got %d with %s %q, want 200 with one", res.StatusCode, idempotency.HeaderExpires, v)
	}
	t, err := http.ParseTime(v[0])
	if err != nil || v[0] != t.UTC().Format(http.TimeFormat) {
		tb.Fatalf("%s %q: not an IMF-fixdate (%v)", idempotency.HeaderExpires, v[0], err)
	}
	return t
}
