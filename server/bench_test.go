package server_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/idemsum/idemsum/auth"
	"github.com/idemsum/idemsum/server"
)

// BenchmarkPostSum measures the HTTP edge per keyed addition (decoding,
// Guard, fake ledger and store, encoding, metrics), without the network.
// Mode "harness" is a handler that only writes {"total":1}: what the
// benchmark's own requests and recorders cost, to subtract. Mode
// "keyed-token" is "keyed" with API tokens required (auth.Tokens of 8
// clients, the request's token the last): the cost of authentication.
func BenchmarkPostSum(b *testing.B) {
	tokens, token := benchTokens(b)
	for _, mode := range []string{"harness", "keyed", "keyed-token", "keyless", "replay"} {
		b.Run(mode, func(b *testing.B) {
			h := newHandler(b, newLedger(), newStore())
			if mode == "keyed-token" {
				d := deps(newLedger(), newStore())
				d.Access.Tokens = func() *auth.Tokens { return tokens }
				h = server.NewServer(d)
			}
			if mode == "harness" {
				h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"total":1}` + "\n")) })
			}
			if mode == "replay" { // complete the key first: every request then replays it
				req := httptest.NewRequest(http.MethodPost, "/sum", strings.NewReader(`{"number":5}`))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Idempotency-Key", "k1")
				h.ServeHTTP(httptest.NewRecorder(), req)
			}
			var n atomic.Int64
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					if mode == "replay" {
						i = 1
					}
					req := httptest.NewRequest(http.MethodPost, "/sum", strings.NewReader(`{"number":5}`))
					req.Header.Set("Content-Type", "application/json")
					if mode == "keyed-token" {
						req.Header.Set("Authorization", "Bearer "+token)
					}
					if mode != "keyless" {
						req.Header.Set("Idempotency-Key", "k"+strconv.FormatInt(i, 10))
					}
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Fatalf("status %d: %s", rec.Code, rec.Body)
					}
				}
			})
		})
	}
}

// benchTokens returns a tokens file of 8 clients and the last one's token.
func benchTokens(b *testing.B) (*auth.Tokens, string) {
	var file strings.Builder
	var token string
	for i := range 8 {
		t, err := auth.NewToken()
		if err != nil {
			b.Fatal(err)
		}
		fmt.Fprintln(&file, auth.Line(fmt.Sprintf("client-%d", i), t))
		token = t
	}
	tokens, err := auth.Parse(strings.NewReader(file.String()), "bench")
	if err != nil {
		b.Fatal(err)
	}
	return tokens, token
}
