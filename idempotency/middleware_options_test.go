package idempotency_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/idemsum/idemsum/idempotency"
)

// TestMiddlewareRequireKey: with RequireKey a covered request without a key
// is refused with a problem naming the header, before the handler runs;
// safe methods and keyed requests are as without it.
func TestMiddlewareRequireKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, method string
		keys         []string
		status       int
		runs         int32
	}{
		{"POST without a key", http.MethodPost, nil, http.StatusBadRequest, 0},
		{"DELETE without a key", http.MethodDelete, nil, http.StatusBadRequest, 0},
		{"POST with a key", http.MethodPost, []string{"k"}, http.StatusCreated, 1},
		{"GET without a key", http.MethodGet, nil, http.StatusCreated, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := &echo{}
			h := idempotency.Middleware(newMemGuard(), idempotency.RequireKey())(e)
			w := serve(h, tt.method, "/orders", "x", tt.keys...)
			wantStatus(t, w, tt.status)
			wantRuns(t, e, tt.runs)
			if tt.status != http.StatusBadRequest {
				return
			}
			wantProblem(t, w, http.StatusBadRequest)
			var p struct{ Title, Detail string }
			json.Unmarshal(w.Body.Bytes(), &p)
			if !strings.Contains(p.Title+p.Detail, "Idempotency-Key") {
				t.Fatalf("problem %+v does not name the Idempotency-Key header", p)
			}
		})
	}
}

// TestMiddlewareKeyOptionalByDefault: without RequireKey a request without
// a key runs unguarded, as before.
func TestMiddlewareKeyOptionalByDefault(t *testing.T) {
	t.Parallel()
	e := &echo{}
	h := idempotency.Middleware(newMemGuard())(e)
	wantStatus(t, serve(h, http.MethodPost, "/orders", "x"), http.StatusCreated)
	wantRuns(t, e, 1)
}

// TestMiddlewareFingerprintWith: a client that re-serialises its JSON body
// or changes an ignored member is a retry with JSONFingerprint; a changed
// member that counts is still a mismatch.
func TestMiddlewareFingerprintWith(t *testing.T) {
	t.Parallel()
	first := `{"item":"book","quantity":2,"trace_id":"a"}`
	tests := []struct {
		name, body string
		status     int
	}{
		{"same bytes", first, http.StatusCreated},
		{"re-serialised", "{ \"trace_id\": \"a\",\n \"quantity\": 2, \"item\": \"book\" }", http.StatusCreated},
		{"ignored member changed", `{"item":"book","quantity":2,"trace_id":"b"}`, http.StatusCreated},
		{"ignored member dropped", `{"quantity":2,"item":"book"}`, http.StatusCreated},
		{"member changed", `{"item":"book","quantity":3,"trace_id":"a"}`, http.StatusUnprocessableEntity},
		{"member added", `{"item":"book","quantity":2,"gift":true}`, http.StatusUnprocessableEntity},
		{"number written otherwise", `{"item":"book","quantity":2.0}`, http.StatusUnprocessableEntity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := &echo{}
			h := idempotency.Middleware(newMemGuard(), idempotency.FingerprintWith(idempotency.JSONFingerprint("trace_id")))(e)
			wantStatus(t, serve(h, http.MethodPost, "/orders", first, "k"), http.StatusCreated)
			w := serve(h, http.MethodPost, "/orders", tt.body, "k")
			wantStatus(t, w, tt.status)
			wantRuns(t, e, 1)
		})
	}
}

// TestMiddlewareDefaultFingerprintIsRaw: by default the fingerprint is
// today's (method, path, query, raw body), so records stored before the
// options existed still match, and a re-serialised body is a mismatch.
func TestMiddlewareDefaultFingerprintIsRaw(t *testing.T) {
	t.Parallel()
	var stored string
	store := funcStore{put: func(_ context.Context, _ string, rec idempotency.Record, _ time.Duration) error {
		stored = rec.Fingerprint
		return nil
	}}
	h := idempotency.Middleware(&idempotency.Guard{Store: store})(&echo{})
	serve(h, http.MethodPost, "/orders?x=1", `{"a":1}`, "k")
	if want := idempotency.Fingerprint("POST", "/orders", "x=1", `{"a":1}`); stored != want {
		t.Fatalf("stored fingerprint %q, want %q", stored, want)
	}
	e := &echo{}
	h = idempotency.Middleware(newMemGuard())(e)
	serve(h, http.MethodPost, "/orders", `{"a":1,"b":2}`, "k")
	wantStatus(t, serve(h, http.MethodPost, "/orders", `{"b":2,"a":1}`, "k"), http.StatusUnprocessableEntity)
}

// TestMiddlewareRunUnguarded: a service whose handler has a durable fence
// of its own may opt into running it while the Store is down.
func TestMiddlewareRunUnguarded(t *testing.T) {
	t.Parallel()
	e := &echo{}
	g := &idempotency.Guard{Store: downStore, StoreDown: idempotency.RunUnguarded}
	h := idempotency.Middleware(g)(e)
	for range 2 {
		wantStatus(t, serve(h, http.MethodPost, "/orders", "x", "k"), http.StatusCreated)
	}
	wantRuns(t, e, 2)
}

// TestMiddlewareRecordNotKept: when the Store fails after the handler ran,
// the client still gets the handler's answer (its effect happened), but
// no expiry: the key is not remembered.
func TestMiddlewareRecordNotKept(t *testing.T) {
	t.Parallel()
	store := funcStore{put: func(context.Context, string, idempotency.Record, time.Duration) error { return errBackend }}
	e := &echo{}
	w := serve(idempotency.Middleware(&idempotency.Guard{Store: store})(e), http.MethodPost, "/orders", "x", "k")
	wantStatus(t, w, http.StatusCreated)
	if got := w.Header().Values(idempotency.HeaderExpires); len(got) != 0 {
		t.Fatalf("answer whose record was lost: %s %q, want none", idempotency.HeaderExpires, got)
	}
	wantRuns(t, e, 1)
}

// TestMiddlewareNeedsAStore: a Guard without a Store would make the
// middleware a no-op; it is refused when the middleware is built.
func TestMiddlewareNeedsAStore(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Fatalf("Middleware(&Guard{}) did not panic")
		}
	}()
	idempotency.Middleware(&idempotency.Guard{})(http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", nil))
}
