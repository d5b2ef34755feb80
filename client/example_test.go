package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/idemsum/idemsum/client"
)

// fakeSum is a tiny stand-in for sumd: it adds each key's number once
// and replays the first answer to later requests with the key.
func fakeSum() *httptest.Server { return httptest.NewServer(sumHandler()) }

func sumHandler() http.Handler {
	var mu sync.Mutex
	total, seen := uint64(100), map[string]string{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	})
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
			fmt.Fprint(w, `{"type":"urn:idemsum:problem:in-flight","title":"Conflict","status":409,"detail":"in flight","outcome":"not-added"}`)
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

// An addition whose outcome is unknown (here the service added, then
// answered a 503 saying the outcome is unknown) is resumed with its key:
// the answer, a replay, says it was added, and it is never added twice.
func ExampleClient_Add_outcomeUnknown() {
	sum, lost := sumHandler(), true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !lost {
			sum.ServeHTTP(w, r)
			return
		}
		lost = false
		sum.ServeHTTP(httptest.NewRecorder(), r) // added; the answer is lost
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"type":"urn:idemsum:problem:outcome-unknown","title":"Service Unavailable","status":503,"detail":"the outcome is unknown","outcome":"unknown"}`)
	}))
	defer srv.Close()
	c, _ := client.New([]string{srv.URL}, client.WithMaxAttempts(1))
	res, err := c.Add(context.Background(), 5, client.WithKey("order-7"))
	fmt.Println(errors.Is(err, client.ErrOutcomeUnknown), res.Key)
	// Later, with the same key:
	again, err := c.Add(context.Background(), 5, client.WithKey(res.Key))
	fmt.Println(again.Total, again.Replayed, err)
	// Output:
	// true order-7
	// 105 true <nil>
}

// A redirect comes from something in front of sumd (sumd never
// redirects): it is not followed, and nothing was added.
func ExampleClient_Add_redirected() {
	srv := httptest.NewServer(http.RedirectHandler("https://elsewhere.example/sum", http.StatusMovedPermanently))
	defer srv.Close()
	c, _ := client.New([]string{srv.URL}, client.WithToken("isk_secret"))
	_, err := c.Add(context.Background(), 1)
	var e *client.Error
	if errors.As(err, &e) {
		fmt.Println(errors.Is(err, client.ErrRedirected), e.Status, e.Location, errors.Is(err, client.ErrOutcomeUnknown))
	}
	// Output: true 301 https://elsewhere.example/sum false
}
