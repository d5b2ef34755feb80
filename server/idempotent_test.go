package server_test

import (
	"context"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idemsum/idemsum"
	"github.com/idemsum/idemsum/idempotency"
	"github.com/idemsum/idemsum/server"
)

// storeModes are the Guard setups every idempotency test runs under: the
// MySQL fence alone, a working cache, and a cache that is down.
var storeModes = []struct {
	name  string
	store func() *fakeStore
}{
	{"no store", func() *fakeStore { return nil }},
	{"store", newStore},
	{"store down", func() *fakeStore { s := newStore(); s.down = errors.New("redis down"); return s }},
}

// keyedRoutes are the ways to send "add 5 under key K".
var keyedRoutes = []struct {
	name string
	req  func(key string, n int) request
}{
	{"POST /sum query", func(k string, n int) request {
		return request{method: http.MethodPost, target: "/sum?key=" + k + "&number=" + strconv.Itoa(n)}
	}},
	{"POST /sum JSON", func(k string, n int) request {
		return jsonBody("/sum", `{"number":`+strconv.Itoa(n)+`}`).withKey(k)
	}},
	{"POST /sum form", func(k string, n int) request {
		return formBody("/sum", "number="+strconv.Itoa(n)+"&key="+k)
	}},
	{"GET legacy", func(k string, n int) request {
		return request{method: http.MethodGet, target: "/test-sum-action?ikey=" + k + "&number=" + strconv.Itoa(n)}
	}},
	{"POST legacy", func(k string, n int) request {
		return request{method: http.MethodPost, target: "/test-sum-action?ikey=" + k + "&number=" + strconv.Itoa(n)}
	}},
}

func TestReplay(t *testing.T) {
	t.Parallel()
	for _, mode := range storeModes {
		for _, route := range keyedRoutes {
			t.Run(mode.name+"/"+route.name, func(t *testing.T) {
				t.Parallel()
				l := newLedger()
				h := newHandler(t, l, mode.store())
				assertTotal(t, serve(t, h, request{method: http.MethodPost, target: "/sum?number=10"}), "10")
				first := serve(t, h, route.req("K", 5))
				assertTotal(t, first, "15")
				if got := first.Header().Get("Idempotent-Replayed"); got != "" {
					t.Errorf("first Idempotent-Replayed: got %q, want none", got)
				}
				assertTotal(t, serve(t, h, request{method: http.MethodPost, target: "/sum?number=100"}), "115")
				for _, again := range keyedRoutes {
					rec := serve(t, h, again.req("K", 5))
					assertReplay(t, rec, first.Body.String())
				}
				if got := l.sum(); got != "115" {
					t.Errorf("total: got %s, want 115", got)
				}
			})
		}
	}
}

func assertReplay(tb testing.TB, rec *httptest.ResponseRecorder, body string) {
	tb.Helper()
	if rec.Code != http.StatusOK {
		tb.Fatalf("replay status: got %d, want %d (body %q)", rec.Code, http.StatusOK, rec.Body.String())
	}
	if got := rec.Header().Get("Idempotent-Replayed"); got != "true" {
		tb.Errorf("replay Idempotent-Replayed: got %q, want %q", got, "true")
	}
	if got := rec.Body.String(); got != body {
		tb.Errorf("replay body: got %q, want byte-identical %q", got, body)
	}
	if got := rec.Header().Get("Content-Type"); got != "application/json" {
		tb.Errorf("replay Content-Type: got %q, want %q", got, "application/json")
	}
}

func TestKeyReusedWithDifferentNumber(t *testing.T) {
	t.Parallel()
	for _, mode := range storeModes {
		for _, route := range keyedRoutes {
			t.Run(mode.name+"/"+route.name, func(t *testing.T) {
				t.Parallel()
				l := newLedger()
				h := newHandler(t, l, mode.store())
				assertTotal(t, serve(t, h, route.req("K", 5)), "5")
				for _, again := range keyedRoutes {
					assertProblem(t, serve(t, h, again.req("K", 6)), http.StatusUnprocessableEntity)
				}
				if got := l.sum(); got != "5" {
					t.Errorf("total: got %s, want 5", got)
				}
			})
		}
	}
}

func TestInFlight(t *testing.T) {
	t.Parallel()
	for _, route := range keyedRoutes {
		t.Run(route.name, func(t *testing.T) {
			t.Parallel()
			l, s := newLedger(), newStore()
			s.inFlight = true
			rec := serve(t, newHandler(t, l, s), route.req("K", 5))
			assertProblem(t, rec, http.StatusConflict)
			assertRetryAfter(t, rec)
			if adds, _ := l.seen(); len(adds) != 0 {
				t.Errorf("additions: got %v, want none", adds)
			}
		})
	}
}

// TestInFlightConcurrent sends a duplicate while the original is held
// inside the ledger: the duplicate gets 409, the original its 200, and a
// later duplicate the replay.
func TestInFlightConcurrent(t *testing.T) {
	t.Parallel()
	l, s := newLedger(), newStore()
	l.Entered, l.Gate = make(chan struct{}, 1), make(chan struct{})
	h := newHandler(t, l, s)
	req := request{method: http.MethodPost, target: "/sum?number=5"}.withKey("K")
	done := make(chan exchange, 1)
	go func() { done <- runRequest(h, req) }()
	<-l.Entered
	dup := serve(t, h, req)
	assertProblem(t, dup, http.StatusConflict)
	assertRetryAfter(t, dup)
	close(l.Gate)
	first := (<-done).checked(t)
	assertTotal(t, first, "5")
	assertReplay(t, serve(t, h, req), first.Body.String())
	assertAdded(t, l, idemsum.Addition{Key: "K", Number: 5})
}

func assertRetryAfter(tb testing.TB, rec *httptest.ResponseRecorder) {
	tb.Helper()
	v := rec.Header().Get("Retry-After")
	if n, err := strconv.Atoi(v); err != nil || n < 0 {
		tb.Errorf("Retry-After: got %q, want a number of seconds", v)
	}
}

func TestUnavailable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		req  request
	}{
		{"POST /sum keyless", request{method: http.MethodPost, target: "/sum?number=5"}},
		{"POST /sum keyed", request{method: http.MethodPost, target: "/sum?number=5"}.withKey("K")},
		{"POST /sum read", request{method: http.MethodPost, target: "/sum"}},
		{"GET /sum", request{method: http.MethodGet, target: "/sum"}},
		{"GET legacy", request{method: http.MethodGet, target: "/test-sum-action?ikey=K&number=5"}},
		{"POST legacy", request{method: http.MethodPost, target: "/test-sum-action?ikey=K&number=5"}},
	}
	for _, mode := range storeModes {
		for _, tc := range tests {
			t.Run(mode.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				l := newLedger()
				l.SetErr(errDown)
				h := newHandler(t, l, mode.store())
				rec := serve(t, h, tc.req)
				assertProblem(t, rec, http.StatusServiceUnavailable)
				assertRetryAfter(t, rec)
				if strings.Contains(rec.Body.String(), "10.0.0.7") {
					t.Errorf("body: got %q, want no internal detail", rec.Body.String())
				}
				l.SetErr(nil)
				// The retry with the same key is safe: it adds once.
				want := "5"
				if !strings.Contains(tc.req.target, "number") {
					want = "0"
				}
				first := serve(t, h, tc.req)
				assertTotal(t, first, want)
				if first.Header().Get("Idempotent-Replayed") != "" {
					t.Errorf("retry after 503: got a replay, want the first response")
				}
			})
		}
	}
}

// TestConcurrentDuplicates sends one keyed addition from many goroutines:
// it is added once, exactly one response is the original, and every 200
// carries the same bytes.
func TestConcurrentDuplicates(t *testing.T) {
	t.Parallel()
	for _, mode := range storeModes {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			l := newLedger()
			h := newHandler(t, l, mode.store())
			const n = 32
			exs := make([]exchange, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					exs[i] = runRequest(h, keyedRoutes[i%len(keyedRoutes)].req("K", 7))
				})
			}
			wg.Wait()
			originals := 0
			for _, ex := range exs {
				rec := ex.checked(t)
				switch rec.Code {
				case http.StatusConflict:
					assertProblem(t, rec, http.StatusConflict)
				case http.StatusOK:
					if got := rec.Body.String(); got != "{\"total\":7}\n" {
						t.Errorf("body: got %q, want %q", got, "{\"total\":7}\n")
					}
					if rec.Header().Get("Idempotent-Replayed") == "" {
						originals++
					}
				default:
					t.Errorf("status: got %d, want 200 or 409", rec.Code)
				}
			}
			if originals != 1 {
				t.Errorf("original responses: got %d, want 1", originals)
			}
			if got := l.sum(); got != "7" {
				t.Errorf("total: got %s, want 7", got)
			}
		})
	}
}

// TestLinearizableTotals checks docs/design.md#invariants, 2: linearizable
// totals, at the edge: sorted by total, each response's total minus its
// number is the previous total.
func TestLinearizableTotals(t *testing.T) {
	t.Parallel()
	l := newLedger()
	h := newHandler(t, l, nil)
	const n = 64
	exs := make([]exchange, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			exs[i] = runRequest(h, request{method: http.MethodPost, target: "/sum?number=" + strconv.Itoa(i+1)})
		})
	}
	wg.Wait()
	totals := make([]*big.Int, n)
	numbers := map[string]int64{}
	for i, ex := range exs {
		rec := ex.checked(t)
		tot, ok := new(big.Int).SetString(strings.TrimSuffix(strings.TrimPrefix(rec.Body.String(), `{"total":`), "}\n"), 10)
		if rec.Code != http.StatusOK || !ok {
			t.Fatalf("response: got %d %q, want 200 with a total", rec.Code, rec.Body.String())
		}
		totals[i] = tot
		numbers[tot.String()] = int64(i + 1)
	}
	slices.SortFunc(totals, func(a, b *big.Int) int { return a.Cmp(b) })
	prev := new(big.Int)
	for _, tot := range totals {
		want := new(big.Int).Add(prev, big.NewInt(numbers[tot.String()]))
		if tot.Cmp(want) != 0 {
			t.Errorf("total: got %v, want %v", tot, want)
		}
		prev = tot
	}
	if got, want := l.sum(), prev.String(); got != want {
		t.Errorf("final total: got %s, want %s", got, want)
	}
}

// signalStore tells when a request that found the key in flight has
// looked the key up again, i.e. when it would answer 409 or start waiting.
type signalStore struct {
	*fakeStore
	mu       sync.Mutex
	refused  bool
	lookedUp chan struct{}
}

func (s *signalStore) Claim(ctx context.Context, key string, lease time.Duration) (string, error) {
	tok, err := s.fakeStore.Claim(ctx, key, lease)
	if errors.Is(err, idempotency.ErrInFlight) {
		s.mu.Lock()
		s.refused = true
		s.mu.Unlock()
	}
	return tok, err
}

func (s *signalStore) Get(ctx context.Context, key string) (idempotency.Record, error) {
	rec, err := s.fakeStore.Get(ctx, key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refused && errors.Is(err, idempotency.ErrNotFound) && s.lookedUp != nil {
		close(s.lookedUp)
		s.lookedUp = nil
	}
	return rec, err
}

// TestPreferWait checks docs/api.md: a duplicate of an in-flight request
// with "Prefer: wait=S" waits for the original and replays its response
// instead of answering 409.
func TestPreferWait(t *testing.T) {
	t.Parallel()
	l := newLedger()
	l.Entered, l.Gate = make(chan struct{}, 1), make(chan struct{})
	s := &signalStore{fakeStore: newStore(), lookedUp: make(chan struct{})}
	lookedUp := s.lookedUp
	d := deps(l, nil)
	d.Service.Guard.Store = s
	d.MaxWait = 10 * time.Second
	h := server.NewServer(d)
	req := request{method: http.MethodPost, target: "/sum?number=5"}.withKey("K")
	first := make(chan exchange, 1)
	go func() { first <- runRequest(h, req) }()
	<-l.Entered
	waiting := req
	waiting.header = waiting.header.Clone()
	waiting.header.Set("Prefer", "wait=10")
	dup := make(chan exchange, 1)
	go func() { dup <- runRequest(h, waiting) }()
	var rec *httptest.ResponseRecorder
	select {
	case <-lookedUp: // the duplicate saw the key in flight
	case ex := <-dup:
		rec = ex.checked(t)
	}
	close(l.Gate)
	orig := (<-first).checked(t)
	if rec == nil {
		rec = (<-dup).checked(t)
	}
	assertTotal(t, orig, "5")
	assertReplay(t, rec, orig.Body.String())
	if got := rec.Header().Get("Preference-Applied"); got != "wait=10" {
		t.Errorf("Preference-Applied: got %q, want %q", got, "wait=10")
	}
	assertAdded(t, l, idemsum.Addition{Key: "K", Number: 5})
}
