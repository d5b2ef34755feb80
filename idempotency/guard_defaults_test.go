package idempotency_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/idemsum/idemsum/idempotency"
	"github.com/idemsum/idemsum/idempotency/idempotencytest"
)

// A client that goes away makes the Store calls of its request fail; that
// must not switch the Store off for everyone else.
func TestGuardIgnoresFailuresOfCancelledRequests(t *testing.T) {
	t.Parallel()
	var told []string
	store := funcStore{get: func(ctx context.Context, key string) (idempotency.Record, error) {
		return idempotency.Record{}, ctx.Err()
	}}
	g := &idempotency.Guard{Store: store, Lease: time.Second, TTL: time.Hour,
		OnStoreError: func(op string, err error) { told = append(told, op) }}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	g.Do(ctx, "k", "fp", func(context.Context) (idempotency.Record, bool, error) { return okRecord, false, nil })
	if !g.Available() || len(told) != 0 {
		t.Errorf("after a cancelled request: available=%v, store errors %v; want available and none", g.Available(), told)
	}
}

func TestGuardDefaultsAndFingerprint(t *testing.T) {
	t.Parallel()
	var lease, ttl time.Duration
	store := funcStore{
		claim: func(_ context.Context, _ string, d time.Duration) (string, error) { lease = d; return "t", nil },
		put: func(_ context.Context, _ string, rec idempotency.Record, d time.Duration) error {
			ttl = d
			if rec.Fingerprint != "fp" {
				t.Errorf("stored fingerprint got %q, want the request's %q", rec.Fingerprint, "fp")
			}
			return nil
		},
	}
	g := &idempotency.Guard{Store: store}
	_, err := g.Do(context.Background(), "k", "fp", func(context.Context) (idempotency.Record, bool, error) {
		return idempotency.Record{Status: 200}, false, nil // no fingerprint set by fn
	})
	if err != nil {
		t.Fatal(err)
	}
	if lease != 5*time.Second || ttl != 24*time.Hour {
		t.Errorf("defaults got lease %v ttl %v, want 5s and 24h", lease, ttl)
	}
}

func TestMiddlewareFirstResponseKeepsHeaders(t *testing.T) {
	t.Parallel()
	g := &idempotency.Guard{Store: idempotencytest.NewMemStore(time.Now), Lease: time.Second, TTL: time.Hour}
	h := idempotency.Middleware(g)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "/orders/1")
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte("created"))
	}))
	req := httptest.NewRequest(http.MethodPost, "/orders", strings.NewReader("x"))
	req.Header.Set("Idempotency-Key", "k")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated || rec.Header().Get("Location") != "/orders/1" {
		t.Errorf("first response got %d Location %q, want 201 with the handler's Location", rec.Code, rec.Header().Get("Location"))
	}
}
