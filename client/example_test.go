package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"idemsum/client"
)

// fakeSum is a tiny stand-in for sumd: it adds each key's number once
// and replays the first answer to later requests with the key.
func fakeSum() *httptest.Server {
	var mu sync.Mutex
	total, seen := uint64(100), map[string]string{}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		var in struct{ Number uint64 }
		if r.Method == http.MethodPost {
			fmt.Sscanf(readAll(r), `{"number":%d}`, &in.Number)
		}
		key := r.Header.Get("Idempotency-Key")
		w.Header().Set("Content-Type", "application/json")
		if body, ok := seen[key]; ok && key != "" {
			w.Header().Set("Idempotent-Replayed", "true")
			fmt.Fprint(w, body)
			return
		}
		total += in.Number
		body := fmt.Sprintf("{\"total\":%d}\n", total)
		if key != "" {
			seen[key] = body
		}
		fmt.Fprint(w, body)
	}))
}

func Example() {
	srv := fakeSum()
	defer srv.Close()
	c, err := client.New([]string{srv.URL})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := c.Add(ctx, 5)
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Total, res.Replayed)
	// The same key again: replayed, not added a second time.
	again, _ := c.Add(ctx, 5, client.WithKey(res.Key))
	fmt.Println(again.Total, again.Replayed)
	total, _ := c.Total(ctx)
	fmt.Println(total)
	// Output:
	// 105 false
	// 105 true
	// 105
}

// A 409 (the key is in flight on another instance) is retried with the
// same key; a 422 (the key was used with another number) is returned.
func ExampleClient_Add_errors() {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.Header().Set("Content-Type", "application/problem+json")
		switch calls {
		case 1:
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusConflict)
			fmt.Fprint(w, `{"type":"urn:idemsum:problem:in-flight","title":"Conflict","status":409,"detail":"in flight"}`)
		default:
			w.WriteHeader(http.StatusUnprocessableEntity)
			fmt.Fprint(w, `{"type":"urn:idemsum:problem:key-reused","title":"Unprocessable Entity","status":422,"detail":"this idempotency key was already used with a different number"}`)
		}
	}))
	defer srv.Close()
	c, _ := client.New([]string{srv.URL}, client.WithBackoff(time.Millisecond, 10*time.Millisecond))
	res, err := c.Add(context.Background(), 7, client.WithKey("order-42"))
	var e *client.Error
	fmt.Println(errors.Is(err, client.ErrKeyReused), errors.As(err, &e) && e.Status == 422, res.Attempts)
	// Output: true true 2
}
