package server_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// BenchmarkPostSum measures the HTTP edge per keyed addition (decoding,
// Guard, fake ledger and store, encoding, metrics), without the network.
// Mode "harness" is a handler that only writes {"total":1}: what the
// benchmark's own requests and recorders cost, to subtract.
func BenchmarkPostSum(b *testing.B) {
	for _, mode := range []string{"harness", "keyed", "keyless", "replay"} {
		b.Run(mode, func(b *testing.B) {
			h := newHandler(b, newLedger(), newStore())
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
