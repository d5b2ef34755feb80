package idempotency_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/idemsum/idemsum/idempotency"
	"github.com/idemsum/idemsum/idempotency/idempotencytest"
)

// unreachable is a Store whose backend cannot be reached.
type unreachable struct{}

var errRefused = errors.New("dial tcp 10.0.0.9:6379: connection refused")

func (unreachable) Get(context.Context, string) (idempotency.Record, error) {
	return idempotency.Record{}, errRefused
}
func (unreachable) Claim(context.Context, string, time.Duration) (string, error) {
	return "", errRefused
}
func (unreachable) Release(context.Context, string, string) error { return errRefused }
func (unreachable) Put(context.Context, string, idempotency.Record, time.Duration) error {
	return errRefused
}

// post sends a POST of body to h with key (none if empty) and prints the
// answer's status, its replay mark and its body.
func post(h http.Handler, target, body, key string) {
	req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
	if key != "" {
		req.Header.Set(idempotency.HeaderKey, key)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Printf("%d replayed=%q %s\n", rec.Code, rec.Header().Get(idempotency.HeaderReplayed), strings.TrimSpace(rec.Body.String()))
}

// While the Store cannot be reached, a Guard fails closed: the handler,
// which has no fence of its own, does not run, and the client is told to
// retry later with the same key. A Func whose effect is fenced in its own
// database (see Func) may run unguarded instead.
func ExampleGuard_StoreDown() {
	charges := 0
	charge := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		charges++ // no fence: running twice would charge twice
		fmt.Fprintln(w, "charged")
	})
	h := idempotency.Middleware(&idempotency.Guard{Store: unreachable{}})(charge)
	post(h, "/charges", "10 EUR", "charge-1")
	fmt.Println("charges:", charges)

	fenced := &idempotency.Guard{Store: unreachable{}, StoreDown: idempotency.RunUnguarded}
	res, err := fenced.Do(context.Background(), "charge-1", "fp", func(context.Context) (idempotency.Record, bool, error) {
		// here: one transaction that records the charge under the key
		return idempotency.Record{Status: http.StatusCreated, Body: []byte("charged")}, false, nil
	})
	fmt.Println(res.Status, string(res.Body), err)
	// Output:
	// 503 replayed="" {"type":"about:blank","title":"Idempotency store unavailable","status":503,"detail":"the request was not run; retry with the same key"}
	// charges: 0
	// 201 charged <nil>
}

// A service chooses which answers a key keeps. This one does not keep
// 404 (the order may not be visible yet on a replica): the retry runs the
// handler again, and its 201 is what the key keeps.
func ExampleGuard_RecordStatus() {
	g := &idempotency.Guard{
		Store:        idempotencytest.NewMemStore(nil),
		RecordStatus: func(status int) bool { return status != http.StatusNotFound && idempotency.DefaultRecordStatus(status) },
	}
	visible := false
	h := idempotency.Middleware(g)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !visible {
			http.Error(w, "no order 7", http.StatusNotFound)
			visible = true
			return
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintln(w, "item added to order 7")
	}))
	for range 3 {
		post(h, "/orders/7/items", "1 book", "item-1")
	}
	// Output:
	// 404 replayed="" no order 7
	// 201 replayed="" item added to order 7
	// 201 replayed="true" item added to order 7
}

// With RequireKey a request the middleware covers must carry a key.
func ExampleRequireKey() {
	g := &idempotency.Guard{Store: idempotencytest.NewMemStore(nil)}
	h := idempotency.Middleware(g, idempotency.RequireKey())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "paid")
	}))
	post(h, "/payments", "10 EUR", "")
	post(h, "/payments", "10 EUR", "payment-1")
	// Output:
	// 400 replayed="" {"type":"about:blank","title":"Idempotency-Key is missing","status":400,"detail":"this request requires an Idempotency-Key header"}
	// 200 replayed="" paid
}

// JSONFingerprint lets a client re-serialise its JSON body, and change
// members the handler does not act on, without its retry being taken for
// another request (422).
func ExampleJSONFingerprint() {
	g := &idempotency.Guard{Store: idempotencytest.NewMemStore(nil)}
	fp := idempotency.FingerprintWith(idempotency.JSONFingerprint("trace_id"))
	h := idempotency.Middleware(g, fp)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintln(w, "order 1")
	}))
	post(h, "/orders", `{"item":"book","quantity":2,"trace_id":"a1"}`, "order-1")
	post(h, "/orders", `{ "quantity": 2, "item": "book", "trace_id": "b2" }`, "order-1")
	post(h, "/orders", `{"item":"book","quantity":3}`, "order-1")
	// Output:
	// 201 replayed="" order 1
	// 201 replayed="true" order 1
	// 422 replayed="" {"type":"about:blank","title":"Idempotency key reused","status":422,"detail":"idempotency: key was already used with a different request"}
}

// Every recorded and replayed answer says until when its key is
// remembered: the first answer's time plus the Guard's TTL.
func ExampleGuard_TTL() {
	clock := idempotencytest.NewClock(time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC))
	g := &idempotency.Guard{Store: idempotencytest.NewMemStore(clock.Now), TTL: 24 * time.Hour, Now: clock.Now}
	h := idempotency.Middleware(g)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "done")
	}))
	for range 2 {
		req := httptest.NewRequest(http.MethodPost, "/jobs", strings.NewReader("run"))
		req.Header.Set(idempotency.HeaderKey, "job-1")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Println(idempotency.HeaderExpires+":", rec.Header().Get(idempotency.HeaderExpires))
		clock.Advance(time.Hour)
	}
	// Output:
	// Idempotency-Key-Expires: Tue, 07 May 2030 07:08:09 GMT
	// Idempotency-Key-Expires: Tue, 07 May 2030 07:08:09 GMT
}
