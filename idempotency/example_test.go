package idempotency_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/idemsum/idemsum/idempotency"
	"github.com/idemsum/idemsum/idempotency/idempotencytest"
)

// A Guard runs an operation at most once per key. The operation records
// its effect and its response in one atomic step (here a map under a
// mutex stands in for a database transaction with a unique key) and, for
// a key it already has, returns the stored response with existing true:
// that is the fence that holds even when the Store (Redis) loses a claim.
func ExampleGuard() {
	var (
		mu     sync.Mutex
		orders = map[string]idempotency.Record{} // the "database"
	)
	placeOrder := func(key string) idempotency.Func {
		return func(ctx context.Context) (idempotency.Record, bool, error) {
			mu.Lock()
			defer mu.Unlock()
			if rec, ok := orders[key]; ok {
				return rec, true, nil
			}
			rec := idempotency.Record{Status: http.StatusCreated, ContentType: "text/plain", Body: []byte(fmt.Sprintf("order %d", len(orders)+1))}
			orders[key] = rec
			return rec, false, nil
		}
	}
	g := &idempotency.Guard{Store: idempotencytest.NewMemStore(nil), Lease: 5 * time.Second, TTL: 24 * time.Hour}
	fp := idempotency.Fingerprint("POST", "/orders", "2 books")
	for range 2 {
		res, err := g.Do(context.Background(), "order-key-1", fp, placeOrder("order-key-1"))
		fmt.Println(res.Status, string(res.Body), res.Replayed, err)
	}
	_, err := g.Do(context.Background(), "order-key-1", idempotency.Fingerprint("POST", "/orders", "3 books"), placeOrder("order-key-1"))
	fmt.Println(err)
	// Output:
	// 201 order 1 false <nil>
	// 201 order 1 true <nil>
	// idempotency: key was already used with a different request
}

// Middleware makes a handler's POSTs with an Idempotency-Key idempotent:
// a retry gets the first response again, marked Idempotent-Replayed.
// (Without a fence inside the handler, a handler that outlives the lease
// may run twice; see Func.)
func ExampleMiddleware() {
	g := &idempotency.Guard{Store: idempotencytest.NewMemStore(nil)}
	n := 0
	h := idempotency.Middleware(g)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		w.Header().Set("Location", fmt.Sprintf("/orders/%d", n))
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "order %d\n", n)
	}))
	for range 2 {
		req := httptest.NewRequest(http.MethodPost, "/orders", strings.NewReader("2 books"))
		req.Header.Set("Idempotency-Key", "order-key-1")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Print(rec.Code, " ", rec.Header().Get("Location"), " ", rec.Header().Get("Idempotent-Replayed"), " ", rec.Body.String())
	}
	// Output:
	// 201 /orders/1  order 1
	// 201 /orders/1 true order 1
}

// principalKey is the context key under which the example's authentication
// middleware leaves the caller's name.
type principalKey struct{}

// With Scope, keys belong to their sender: here an authentication
// middleware puts the caller's name in the request context, and two
// callers that both send "order-1" get an order each, while each caller's
// retry replays its own.
func ExampleGuard_Scope() {
	g := &idempotency.Guard{
		Store: idempotencytest.NewMemStore(nil),
		Scope: func(ctx context.Context) string { s, _ := ctx.Value(principalKey{}).(string); return s },
	}
	n := 0
	orders := idempotency.Middleware(g)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		fmt.Fprintf(w, "order %d for %s", n, r.Context().Value(principalKey{}))
	}))
	authenticate := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			user, _, _ := r.BasicAuth() // a stand-in for real authentication
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, user)))
		})
	}
	h := authenticate(orders)
	for _, user := range []string{"alice", "bob", "alice"} {
		req := httptest.NewRequest(http.MethodPost, "/orders", strings.NewReader("2 books"))
		req.SetBasicAuth(user, "secret")
		req.Header.Set("Idempotency-Key", "order-1")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Printf("%s: %s (replayed: %q)\n", user, rec.Body, rec.Header().Get("Idempotent-Replayed"))
	}
	// Output:
	// alice: order 1 for alice (replayed: "")
	// bob: order 2 for bob (replayed: "")
	// alice: order 1 for alice (replayed: "true")
}
