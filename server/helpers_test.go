package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idemsum/idemsum"
	"github.com/idemsum/idemsum/idempotency"
	"github.com/idemsum/idemsum/idemsumtest"
	"github.com/idemsum/idemsum/server"
)

// fakeLedger is the in-memory idemsumtest.Ledger, with the views of it
// the server tests use, and the count of calls of the Adder the server is
// given over it (adder): a request refused at the edge reaches neither,
// although the Adder and the Ledger would refuse a bad number too.
type fakeLedger struct {
	*idemsumtest.Ledger
	adderCalls atomic.Int64
}

var _ idemsum.Ledger = (*fakeLedger)(nil)

func newLedger() *fakeLedger { return &fakeLedger{Ledger: &idemsumtest.Ledger{}} }

// adder returns idemsum.Unbatched over f, counting its calls.
func (f *fakeLedger) adder() idemsum.Adder { return countingAdder{f} }

type countingAdder struct{ f *fakeLedger }

func (a countingAdder) Add(ctx context.Context, x idemsum.Addition) (idemsum.Result, error) {
	a.f.adderCalls.Add(1)
	return idemsum.Unbatched(a.f).Add(ctx, x)
}

// seen returns the additions the ledger was asked for and its reads.
func (f *fakeLedger) seen() ([]idemsum.Addition, int) {
	var adds []idemsum.Addition
	for _, b := range f.Batches() {
		adds = append(adds, b...)
	}
	return adds, f.Reads()
}

// sum returns the total (a read).
func (f *fakeLedger) sum() string {
	total, _ := f.Total(context.Background())
	return total
}

// fakeStore is an in-memory idempotency.Store with switches for the
// situations a test wants: a key held in flight, Redis down, a record that
// shows up only after some Gets.
type fakeStore struct {
	mu       sync.Mutex
	recs     map[string]idempotency.Record
	claims   map[string]bool
	calls    int   // every method call
	inFlight bool  // Claim always answers ErrInFlight
	down     error // when set, every method fails with it
	misses   int   // Gets answering ErrNotFound before the record shows
	pending  *idempotency.Record
}

var _ idempotency.Store = (*fakeStore)(nil)

func newStore() *fakeStore {
	return &fakeStore{recs: map[string]idempotency.Record{}, claims: map[string]bool{}}
}

func (s *fakeStore) Get(_ context.Context, key string) (idempotency.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.down != nil {
		return idempotency.Record{}, s.down
	}
	if s.pending != nil {
		if s.misses > 0 {
			s.misses--
			return idempotency.Record{}, idempotency.ErrNotFound
		}
		return *s.pending, nil
	}
	r, ok := s.recs[key]
	if !ok {
		return idempotency.Record{}, idempotency.ErrNotFound
	}
	r.Body = append([]byte(nil), r.Body...)
	return r, nil
}

func (s *fakeStore) Claim(_ context.Context, key string, _ time.Duration) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	switch {
	case s.down != nil:
		return "", s.down
	case s.inFlight || s.claims[key]:
		return "", idempotency.ErrInFlight
	}
	if _, ok := s.recs[key]; ok {
		return "", idempotency.ErrInFlight
	}
	s.claims[key] = true
	return "token-" + key, nil
}

func (s *fakeStore) Release(_ context.Context, key, token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.down != nil {
		return s.down
	}
	if token == "token-"+key {
		delete(s.claims, key)
	}
	return nil
}

func (s *fakeStore) Put(_ context.Context, key string, rec idempotency.Record, _ time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.down != nil {
		return s.down
	}
	if _, ok := s.recs[key]; !ok {
		rec.Body = append([]byte(nil), rec.Body...)
		s.recs[key] = rec
	}
	return nil
}

func (s *fakeStore) callCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

var errDown = errors.New("dial tcp 10.0.0.7:3306: connection refused")

// newHandler returns the server over l, with s as the Guard's Store when
// s is not nil.
func newHandler(tb testing.TB, l *fakeLedger, s *fakeStore) http.Handler {
	tb.Helper()
	return server.NewServer(deps(l, s))
}

func deps(l *fakeLedger, s *fakeStore) server.Deps {
	g := &idempotency.Guard{Lease: 5 * time.Second, TTL: time.Hour, Backoff: time.Hour, StoreDown: idempotency.RunUnguarded} // as cmd/sumd wires it
	if s != nil {
		g.Store = s
	}
	return server.Deps{
		Service:   &server.Service{Adder: l.adder(), Ledger: l, Guard: g},
		PingMySQL: func(context.Context) error { return nil },
	}
}

// request describes one HTTP request to send.
type request struct {
	method string
	target string // path and query
	header http.Header
	ctype  string // Content-Type of body
	body   string
	// chunked sends the body without a Content-Length.
	chunked bool
}

// jsonBody returns a POST request of target with a JSON body.
func jsonBody(target, body string) request {
	return request{method: http.MethodPost, target: target, ctype: "application/json", body: body}
}

// formBody returns a POST request of target with a form body.
func formBody(target, body string) request {
	return request{method: http.MethodPost, target: target, ctype: "application/x-www-form-urlencoded", body: body}
}

func (r request) withKey(keys ...string) request {
	r.header = r.header.Clone()
	if r.header == nil {
		r.header = http.Header{}
	}
	r.header[idempotency.HeaderKey] = append(r.header[idempotency.HeaderKey], keys...)
	return r
}

// serve sends r through h and checks the exchange against the OpenAPI
// description. It may fail tb with Fatal, so only the test's goroutine
// calls it; other goroutines use runRequest and leave the check to it.
func serve(tb testing.TB, h http.Handler, r request) *httptest.ResponseRecorder {
	tb.Helper()
	return runRequest(h, r).checked(tb)
}

// exchange is a request sent through a handler and its recorded response.
type exchange struct {
	req  *http.Request
	body string
	rec  *httptest.ResponseRecorder
}

// runRequest sends r through h. It takes no testing.TB, so any goroutine
// may call it; the test's goroutine then checks the exchange (checked).
func runRequest(h http.Handler, r request) exchange {
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	req := httptest.NewRequest(r.method, r.target, body)
	if r.chunked {
		req.ContentLength = -1
		req.Body = io.NopCloser(strings.NewReader(r.body))
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	if r.ctype != "" {
		req.Header.Set("Content-Type", r.ctype)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return exchange{req, r.body, rec}
}

// checked checks e against the OpenAPI description and returns its
// response; call it on the test's goroutine.
func (e exchange) checked(tb testing.TB) *httptest.ResponseRecorder {
	tb.Helper()
	checkAPI(tb, e.req, e.body, e.rec)
	return e.rec
}

// assertProblem checks that rec is an RFC 9457 problem with status want.
func assertProblem(tb testing.TB, rec *httptest.ResponseRecorder, want int) {
	tb.Helper()
	if rec.Code != want {
		tb.Errorf("status: got %d, want %d (body %q)", rec.Code, want, rec.Body.String())
	}
	if got := rec.Header().Get("Content-Type"); got != "application/problem+json" {
		tb.Errorf("Content-Type: got %q, want %q", got, "application/problem+json")
	}
	var p map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		tb.Fatalf("problem body %q: got error %v, want JSON", rec.Body.String(), err)
	}
	for _, member := range []string{"type", "title", "detail"} {
		if s, ok := p[member].(string); !ok || s == "" {
			tb.Errorf("problem member %q: got %#v, want a non-empty string", member, p[member])
		}
	}
	if got, ok := p["status"].(float64); !ok || int(got) != want {
		tb.Errorf("problem status: got %#v, want %d", p["status"], want)
	}
	switch got := p["outcome"]; {
	case want < 500 && got != "not-added":
		tb.Errorf("problem outcome: got %#v, want \"not-added\" (a %d adds nothing)", got, want)
	case got != "not-added" && got != "unknown":
		tb.Errorf("problem outcome: got %#v, want \"not-added\" or \"unknown\"", got)
	}
}

// assertTotal checks that rec is 200 {"total":want}.
func assertTotal(tb testing.TB, rec *httptest.ResponseRecorder, want string) {
	tb.Helper()
	if rec.Code != http.StatusOK {
		tb.Fatalf("status: got %d, want %d (body %q)", rec.Code, http.StatusOK, rec.Body.String())
	}
	if got := rec.Header().Get("Content-Type"); got != "application/json" {
		tb.Errorf("Content-Type: got %q, want %q", got, "application/json")
	}
	if got, want := rec.Body.String(), string(idemsum.Body(want)); got != want {
		tb.Errorf("body: got %q, want %q", got, want)
	}
}

// assertUntouched checks that neither the Adder, nor the ledger, nor the
// store was used: the edge answered alone.
func assertUntouched(tb testing.TB, l *fakeLedger, s *fakeStore) {
	tb.Helper()
	if n := l.adderCalls.Load(); n != 0 {
		tb.Errorf("Adder calls: got %d, want none (the edge refuses; what the Adder refuses too must not reach it)", n)
	}
	adds, reads := l.seen()
	if len(adds) != 0 || reads != 0 {
		tb.Errorf("ledger calls: got %d additions %v and %d reads, want none", len(adds), adds, reads)
	}
	if s != nil {
		if n := s.callCount(); n != 0 {
			tb.Errorf("store calls: got %d, want 0", n)
		}
	}
}

// assertAdded checks that the ledger saw exactly the additions want.
func assertAdded(tb testing.TB, l *fakeLedger, want ...idemsum.Addition) {
	tb.Helper()
	adds, _ := l.seen()
	if len(adds) != len(want) {
		tb.Fatalf("additions: got %v, want %v", adds, want)
	}
	for i := range adds {
		if adds[i] != want[i] {
			tb.Errorf("addition %d: got %+v, want %+v", i, adds[i], want[i])
		}
	}
}
