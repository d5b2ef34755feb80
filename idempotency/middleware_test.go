package idempotency_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/idemsum/idemsum/idempotency"
)

// echo is a handler that counts its runs and answers 201 with the request
// body, unless the body asks for another status ("status=NNN").
type echo struct{ n atomic.Int32 }

func (e *echo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.n.Add(1)
	body, _ := io.ReadAll(r.Body)
	status := http.StatusCreated
	fmt.Sscanf(string(body), "status=%d", &status)
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(status)
	w.WriteHeader(http.StatusTeapot) // ignored: the first status stands
	fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.RequestURI(), body)
}

// serve sends one request through h; keys are Idempotency-Key values.
func serve(h http.Handler, method, target, body string, keys ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	for _, k := range keys {
		r.Header.Add(idempotency.HeaderKey, k)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func wantStatus(tb testing.TB, w *httptest.ResponseRecorder, status int) {
	tb.Helper()
	if w.Code != status {
		tb.Fatalf("status = %d, want %d; body %q", w.Code, status, w.Body)
	}
}

// wantProblem checks an RFC 9457 problem response with status.
func wantProblem(tb testing.TB, w *httptest.ResponseRecorder, status int) {
	tb.Helper()
	wantStatus(tb, w, status)
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		tb.Fatalf("Content-Type = %q, want application/problem+json", ct)
	}
	var p struct {
		Type, Title, Detail string
		Status              int
	}
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Status != status || p.Title == "" {
		tb.Fatalf("problem = %+v, %v; want status %d and a title", p, err, status)
	}
}

func wantRuns(tb testing.TB, e *echo, want int32) {
	tb.Helper()
	if got := e.n.Load(); got != want {
		tb.Fatalf("handler ran %d times, want %d", got, want)
	}
}

func TestMiddlewarePassthrough(t *testing.T) {
	tests := []struct {
		name, method string
		keys         []string
	}{
		{"no key", http.MethodPost, nil},
		{"GET with key", http.MethodGet, []string{"k"}},
		{"GET with invalid key", http.MethodGet, []string{"a b"}},
		{"HEAD with key", http.MethodHead, []string{"k"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &echo{}
			h := idempotency.Middleware(newMemGuard())(e)
			for range 2 {
				w := serve(h, tt.method, "/sum", "x", tt.keys...)
				wantStatus(t, w, http.StatusCreated)
				if w.Header().Get("Idempotent-Replayed") != "" {
					t.Fatalf("Idempotent-Replayed set on a passthrough")
				}
			}
			wantRuns(t, e, 2)
		})
	}
}

func TestMiddlewareReplay(t *testing.T) {
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		t.Run(method, func(t *testing.T) {
			e := &echo{}
			h := idempotency.Middleware(newMemGuard())(e)
			first := serve(h, method, "/sum?a=1", "number=5", `"k"`)
			wantStatus(t, first, http.StatusCreated)
			want := method + " /sum?a=1 number=5"
			if first.Body.String() != want || first.Header().Get("Idempotent-Replayed") != "" {
				t.Fatalf("first response = %q replayed %q, want %q not replayed", first.Body, first.Header().Get("Idempotent-Replayed"), want)
			}
			again := serve(h, method, "/sum?a=1", "number=5", "k")
			wantStatus(t, again, http.StatusCreated)
			if again.Body.String() != want || again.Header().Get("Idempotent-Replayed") != "true" {
				t.Fatalf("replay = %q replayed %q, want %q replayed true", again.Body, again.Header().Get("Idempotent-Replayed"), want)
			}
			for _, h := range []string{"Content-Type", "Content-Length"} {
				if got, want := again.Header().Get(h), first.Header().Get(h); got != want || got == "" {
					t.Fatalf("replay %s = %q, want %q", h, got, want)
				}
			}
			wantRuns(t, e, 1)
		})
	}
}

func TestMiddlewareMismatch(t *testing.T) {
	tests := []struct{ name, method, target, body string }{
		{"body", http.MethodPost, "/sum", "number=6"},
		{"query", http.MethodPost, "/sum?x=1", "number=5"},
		{"path", http.MethodPost, "/other", "number=5"},
		{"method", http.MethodPut, "/sum", "number=5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &echo{}
			h := idempotency.Middleware(newMemGuard())(e)
			wantStatus(t, serve(h, http.MethodPost, "/sum", "number=5", "k"), http.StatusCreated)
			wantProblem(t, serve(h, tt.method, tt.target, tt.body, "k"), http.StatusUnprocessableEntity)
			wantRuns(t, e, 1)
		})
	}
}

func TestMiddlewareInFlight(t *testing.T) {
	started, finish := make(chan struct{}), make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-finish
		fmt.Fprint(w, "done")
	})
	h := idempotency.Middleware(newMemGuard())(slow)
	done := make(chan *httptest.ResponseRecorder, 1)
	go func() { done <- serve(h, http.MethodPost, "/sum", "", "k") }()
	<-started
	w := serve(h, http.MethodPost, "/sum", "", "k")
	close(finish)
	wantProblem(t, w, http.StatusConflict)
	if w.Header().Get("Retry-After") == "" {
		t.Fatalf("409 without Retry-After")
	}
	wantStatus(t, <-done, http.StatusOK)
	replay := serve(h, http.MethodPost, "/sum", "", "k")
	if replay.Body.String() != "done" || replay.Header().Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay = %q replayed %q, want %q replayed true", replay.Body, replay.Header().Get("Idempotent-Replayed"), "done")
	}
}

func TestMiddlewareInvalidKey(t *testing.T) {
	tests := map[string][]string{
		"empty":        {""},
		"space":        {"a b"},
		"256 bytes":    {key256},
		"unterminated": {`"abc`},
		"bad escape":   {`"a\b"`},
		"non-ASCII":    {"clé"},
		"two keys":     {"a", "b"},
	}
	for name, keys := range tests {
		t.Run(name, func(t *testing.T) {
			e := &echo{}
			h := idempotency.Middleware(newMemGuard())(e)
			wantProblem(t, serve(h, http.MethodPost, "/sum", "", keys...), http.StatusBadRequest)
			wantRuns(t, e, 0)
		})
	}
}

func TestMiddlewareServerErrorNotStored(t *testing.T) {
	e := &echo{}
	h := idempotency.Middleware(newMemGuard())(e)
	wantStatus(t, serve(h, http.MethodPost, "/sum", "status=503", "k"), http.StatusServiceUnavailable)
	again := serve(h, http.MethodPost, "/sum", "status=503", "k")
	wantStatus(t, again, http.StatusServiceUnavailable)
	if again.Header().Get("Idempotent-Replayed") != "" {
		t.Fatalf("a 5xx response was replayed")
	}
	wantRuns(t, e, 2)
	wantStatus(t, serve(h, http.MethodPost, "/sum", "status=422", "k2"), http.StatusUnprocessableEntity)
	wantStatus(t, serve(h, http.MethodPost, "/sum", "status=422", "k2"), http.StatusUnprocessableEntity)
	wantRuns(t, e, 3)
}

func TestMiddlewareBodyTooLarge(t *testing.T) {
	e := &echo{}
	h := idempotency.Middleware(newMemGuard())(e)
	body := strings.Repeat("x", idempotency.MaxFingerprintBody+1)
	wantProblem(t, serve(h, http.MethodPost, "/sum", body, "k"), http.StatusRequestEntityTooLarge)
	wantRuns(t, e, 0)
}

func TestMiddlewareEmptyResponse(t *testing.T) {
	quiet := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	h := idempotency.Middleware(newMemGuard())(quiet)
	for _, replayed := range []string{"", "true"} {
		w := serve(h, http.MethodPost, "/sum", "", "k")
		wantStatus(t, w, http.StatusOK)
		if w.Body.Len() != 0 || w.Header().Get("Idempotent-Replayed") != replayed {
			t.Fatalf("response %q replayed %q, want empty, replayed %q", w.Body, w.Header().Get("Idempotent-Replayed"), replayed)
		}
	}
}

// TestMiddlewareReplaysHeaders: a replay carries the first response's
// headers (Location, ETag, repeated Link), but not Set-Cookie or those
// that describe one connection or one moment.
func TestMiddlewareReplaysHeaders(t *testing.T) {
	h := idempotency.Middleware(newMemGuard())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "/orders/42")
		w.Header().Set("ETag", `"v1"`)
		w.Header().Add("Link", "</a>; rel=a")
		w.Header().Add("Link", "</b>; rel=b")
		w.Header().Set("Set-Cookie", "session=secret")
		w.Header().Set("Date", "Mon, 02 Jan 2006 15:04:05 GMT")
		w.Header().Set("Connection", "close")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"id":42}`)
	}))
	first := serve(h, http.MethodPost, "/orders", "{}", "k")
	wantStatus(t, first, http.StatusCreated)
	if first.Header().Get("Set-Cookie") == "" {
		t.Fatalf("first response lost its Set-Cookie")
	}
	again := serve(h, http.MethodPost, "/orders", "{}", "k")
	wantStatus(t, again, http.StatusCreated)
	for name, want := range map[string][]string{
		"Location":            {"/orders/42"},
		"Etag":                {`"v1"`},
		"Link":                {"</a>; rel=a", "</b>; rel=b"},
		"Content-Type":        {"application/json"},
		"Idempotent-Replayed": {"true"},
		"Set-Cookie":          nil,
		"Date":                nil,
		"Connection":          nil,
	} {
		if got := again.Header().Values(name); !slices.Equal(got, want) {
			t.Errorf("replay %s: got %q, want %q", name, got, want)
		}
	}
	if again.Body.String() != `{"id":42}` {
		t.Errorf("replay body: got %q", again.Body)
	}
}
