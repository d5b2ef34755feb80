package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/idemsum/idemsum/client"
)

func readAll(r *http.Request) string {
	b, _ := io.ReadAll(r.Body)
	return string(b)
}

// step is one scripted answer: a status with headers and a body, or a
// connection hung up after the request was read (hangup), or an answer
// held back until the client gives up (hang).
type step struct {
	status int
	header map[string]string
	body   string
	hangup bool
	hang   bool
}

func ok(total string) step { return step{status: 200, body: `{"total":` + total + "}\n"} }

// problem is an idemsum problem; outcome "" leaves the outcome member out
// (as a sumd older than that member did).
func problem(status int, typ, outcome, detail string) step {
	p := map[string]any{"type": "urn:idemsum:problem:" + typ, "title": http.StatusText(status), "status": status, "detail": detail}
	if outcome != "" {
		p["outcome"] = outcome
	}
	b, _ := json.Marshal(p)
	return step{status: status, body: string(b)}
}

// page is an answer of something in front of sumd: an HTML page.
func page(status int) step {
	return step{status: status, header: map[string]string{"Content-Type": "text/html"},
		body: "<html><body><h1>" + http.StatusText(status) + "</h1></body></html>\n"}
}

func (s step) with(k, v string) step {
	h := map[string]string{k: v}
	for k, v := range s.header {
		if _, set := h[k]; !set {
			h[k] = v
		}
	}
	s.header = h
	return s
}

// seen is a request as the scripted server got it.
type seen struct {
	at                      time.Time
	method, path, key, body string
	prefer, auth            string
}

// script is a server answering with its steps in turn (the last one
// again once they run out) and recording what it got. hung receives a
// value each time a request is held back (a hang step).
type script struct {
	mu    sync.Mutex
	steps []step
	got   []seen
	srv   *httptest.Server
	hung  chan struct{}
}

func newScript(tb testing.TB, steps ...step) *script {
	tb.Helper()
	s := &script{steps: steps, hung: make(chan struct{}, 64)}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.srv.Close)
	return s
}

func (s *script) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	st := s.steps[min(len(s.got), len(s.steps)-1)]
	s.got = append(s.got, seen{time.Now(), r.Method, r.URL.Path, r.Header.Get("Idempotency-Key"), readAll(r),
		r.Header.Get("Prefer"), r.Header.Get("Authorization")})
	s.mu.Unlock()
	switch {
	case st.hangup:
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
		return
	case st.hang:
		select {
		case s.hung <- struct{}{}:
		default:
		}
		<-r.Context().Done()
		return
	}
	w.Header().Set("Content-Type", "application/problem+json")
	if st.status/100 == 2 {
		w.Header().Set("Content-Type", "application/json")
	}
	for k, v := range st.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(st.status)
	fmt.Fprint(w, st.body)
}

func (s *script) requests() []seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seen(nil), s.got...)
}

// deadURL returns a URL where nothing listens.
func deadURL(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ln.Close()
	return "http://" + ln.Addr().String()
}

// newClient returns a Client of urls with a short backoff.
func newClient(tb testing.TB, urls []string, opts ...client.Option) *client.Client {
	tb.Helper()
	opts = append([]client.Option{client.WithBackoff(time.Millisecond, 5*time.Millisecond)}, opts...)
	c, err := client.New(urls, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// expiring is a context whose deadline passes when the test calls
// expire, so a test can cut an attempt at a moment it chose.
type expiring struct {
	context.Context
	done chan struct{}
	once sync.Once
}

func newExpiring() *expiring {
	return &expiring{Context: context.Background(), done: make(chan struct{})}
}

func (e *expiring) Done() <-chan struct{} { return e.done }
func (e *expiring) expire()               { e.once.Do(func() { close(e.done) }) }

func (e *expiring) Err() error {
	select {
	case <-e.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// within runs f and fails the test if it has not returned after d (the
// call then goes on until the test's context ends).
func within(tb testing.TB, d time.Duration, f func()) {
	tb.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		tb.Fatalf("still running after %v", d)
	}
}
