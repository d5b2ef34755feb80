package main

import (
	"bytes"
	"context"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idemsum/idemsum"
)

// TestRunExact drives the real server handler (over an in-memory ledger
// and idempotency store) and checks that the report adds up and the
// exactness check passes.
func TestRunExact(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		opts   serviceOpts
		before string // the total before the run
		args   []string
		n      int  // requests sent
		dups   bool // the run repeats keys
	}{
		{name: "unique keys", args: []string{"-c", "8", "-keys", "unique"}, n: 200},
		{name: "no keys", args: []string{"-c", "8", "-keys", "none"}, n: 200},
		{name: "duplicates", args: []string{"-c", "8", "-keys", "dup:0.3"}, n: 300, dups: true},
		{name: "duplicates, fence only", opts: serviceOpts{noStore: true}, args: []string{"-c", "8", "-keys", "dup:0.3"}, n: 300, dups: true},
		{name: "three instances", opts: serviceOpts{instances: 3}, args: []string{"-c", "6", "-keys", "dup:0.2"}, n: 300, dups: true},
		{name: "Connection: close", opts: serviceOpts{wrap: closeEach}, args: []string{"-c", "4", "-keys", "dup:0.2"}, n: 100, dups: true},
		{name: "one client", args: []string{"-c", "1", "-keys", "unique", "-min", "7", "-max", "7"}, n: 50},
		{name: "total beyond uint64", before: "1180591620717411303424", args: []string{"-c", "4"}, n: 40},
		{
			// keyless numbers near 2^63 overflow a uint64 sum after two
			name: "sum beyond uint64", before: "18446744073709551615",
			args: []string{"-c", "4", "-keys", "none", "-min", "9223372036854775000", "-max", "9223372036854775807"}, n: 40,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := newLedger()
			before := "0"
			if tt.before != "" {
				before = tt.before
				l.set(t, before)
			}
			s := newService(t, l, tt.opts)
			r, err := runJSON(t, s.url(), append(tt.args, "-n", strconv.Itoa(tt.n))...)
			if err != nil {
				t.Fatalf("run: got error %v, want nil", err)
			}
			assertExact(t, r, l, before)
			if r.Requests != tt.n {
				t.Errorf("requests: got %d, want %d", r.Requests, tt.n)
			}
			if got := s.sent(); got != tt.n {
				t.Errorf("POST /sum served: got %d, want %d", got, tt.n)
			}
			for i := range s.posts {
				if s.posts[i].Load() == 0 {
					t.Errorf("instance %d got no request", i)
				}
			}
			if r.Resolved != 0 {
				t.Errorf("resolved_after_run: got %d, want 0", r.Resolved)
			}
			if ok := r.ByStatus["200"]; tt.dups {
				// a duplicate is a replay, or a 409 while its original runs
				if ok+r.ByStatus["409"] != tt.n || r.Replayed+r.ByStatus["409"] == 0 {
					t.Errorf("by_status %v, replayed %d: want only 200 and 409, and some duplicates", r.ByStatus, r.Replayed)
				}
			} else if ok != tt.n || r.Replayed != 0 {
				t.Errorf("by_status %v, replayed %d: want %d × 200, none replayed", r.ByStatus, r.Replayed, tt.n)
			}
			if r.RPS <= 0 || r.Seconds <= 0 {
				t.Errorf("rps %v, seconds %v: want both positive", r.RPS, r.Seconds)
			}
			if !(r.P50ms <= r.P95ms && r.P95ms <= r.P99ms && r.P99ms <= r.MaxMs) {
				t.Errorf("latencies p50 %v p95 %v p99 %v max %v: want non-decreasing", r.P50ms, r.P95ms, r.P99ms, r.MaxMs)
			}
		})
	}
}

// closeEach makes the server close the connection after every response.
func closeEach(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		h.ServeHTTP(w, r)
	})
}

// TestRunPathPrefix runs against instances under a path, given with a
// trailing slash.
func TestRunPathPrefix(t *testing.T) {
	t.Parallel()
	l := newLedger()
	s := newService(t, l, serviceOpts{instances: 2, wrap: func(h http.Handler) http.Handler { return http.StripPrefix("/api", h) }})
	r, err := runJSON(t, s.URLs[0]+"/api/,"+s.URLs[1]+"/api", "-c", "4", "-n", "50")
	if err != nil {
		t.Fatalf("run: got error %v, want nil", err)
	}
	assertExact(t, r, l, "0")
	if r.ByStatus["200"] != 50 {
		t.Errorf("by_status: got %v, want 50 × 200", r.ByStatus)
	}
}

// TestRunChunked checks that responses the lean client does not read
// count as transport errors, and that the report says why.
func TestRunChunked(t *testing.T) {
	t.Parallel()
	s := newRawServer(t, func(_ int, req []byte) (string, bool) {
		if bytes.HasPrefix(req, []byte("GET ")) {
			return okJSON, false
		}
		return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nc\r\n{\"total\":1}\n\r\n0\r\n\r\n", false
	})
	r, err := runJSON(t, s.url, "-c", "2", "-n", "10", "-keys", "none")
	if err != nil {
		t.Fatalf("run: got error %v, want nil (unverifiable is not a failure)", err)
	}
	if r.ByStatus["error"] != 10 || !strings.Contains(r.Error, "chunked response") {
		t.Errorf("by_status %v, transport_error %q: want 10 errors, a chunked response", r.ByStatus, r.Error)
	}
	if want := "unverifiable (10 keyless requests with unknown outcome)"; r.Check != want {
		t.Errorf("check: got %q, want %q", r.Check, want)
	}
}

// TestRunDuration runs for a duration: requests on their way at the end
// finish instead of being cut off, so the check is exact in every key
// mode, keyless included.
func TestRunDuration(t *testing.T) {
	t.Parallel()
	for _, keys := range []string{"unique", "dup:0.3", "none"} {
		t.Run(keys, func(t *testing.T) {
			t.Parallel()
			l := newLedger()
			s := newService(t, l, serviceOpts{})
			r, err := runJSON(t, s.url(), "-c", "4", "-d", "100ms", "-keys", keys)
			if err != nil {
				t.Fatalf("run: got error %v, want nil", err)
			}
			if r.Requests == 0 {
				t.Errorf("requests: got 0, want some in 100ms")
			}
			if n := statusSum(r); n != r.Requests {
				t.Errorf("by_status %v adds up to %d, want requests %d", r.ByStatus, n, r.Requests)
			}
			if r.Resolved != 0 {
				t.Errorf("resolved after the run: got %d, want 0 (nothing cut off by the end of the duration)", r.Resolved)
			}
			assertExact(t, r, l, "0")
		})
	}
}

// TestRunResolvesUnknownOutcomes makes some additions commit but fail to
// answer: the run re-sends their keys after the load, and the check is
// still exact. Keyless ones make the check unverifiable, not failed.
func TestRunResolvesUnknownOutcomes(t *testing.T) {
	t.Parallel()
	t.Run("503 after commit", func(t *testing.T) {
		t.Parallel()
		l := newLedger()
		l.fail = func(n int) bool { return n%5 == 0 }
		s := newService(t, l, serviceOpts{})
		r, err := runJSON(t, s.url(), "-c", "8", "-n", "100", "-keys", "unique")
		if err != nil {
			t.Fatalf("run: got error %v, want nil", err)
		}
		assertExact(t, r, l, "0")
		if r.ByStatus["503"] != 20 || r.ByStatus["200"] != 80 {
			t.Errorf("by_status: got %v, want 80 × 200 and 20 × 503", r.ByStatus)
		}
		if r.Resolved != 20 {
			t.Errorf("resolved_after_run: got %d, want 20", r.Resolved)
		}
		if got, want := s.sent(), 100+20; got != want {
			t.Errorf("POST /sum served: got %d, want %d (each 503 re-sent once)", got, want)
		}
	})
	t.Run("503 after commit, duplicates", func(t *testing.T) {
		t.Parallel()
		l := newLedger()
		l.fail = func(n int) bool { return n%5 == 0 }
		s := newService(t, l, serviceOpts{instances: 2})
		r, err := runJSON(t, s.url(), "-c", "8", "-n", "200", "-keys", "dup:0.3")
		if err != nil {
			t.Fatalf("run: got error %v, want nil", err)
		}
		assertExact(t, r, l, "0")
		if r.ByStatus["503"] == 0 || r.Resolved > r.ByStatus["503"] {
			t.Errorf("by_status %v, resolved %d: want some 503, at most that many resolved", r.ByStatus, r.Resolved)
		}
	})
	t.Run("timeout after commit", func(t *testing.T) {
		t.Parallel()
		l := newLedger()
		// every 10th request with a new key commits, then never answers
		var mu sync.Mutex
		var served int
		stalled := map[string]bool{}
		wrap := func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				key := r.Header.Get("Idempotency-Key")
				mu.Lock()
				served++
				stall := r.Method == http.MethodPost && key != "" && served%10 == 0 && !stalled[key]
				if stall {
					stalled[key] = true
				}
				mu.Unlock()
				if !stall {
					h.ServeHTTP(w, r)
					return
				}
				h.ServeHTTP(httptest.NewRecorder(), r)
				<-r.Context().Done() // the client gave up
			})
		}
		s := newService(t, l, serviceOpts{wrap: wrap})
		r, err := runJSON(t, s.url(), "-c", "8", "-n", "50", "-keys", "unique", "-timeout", "200ms")
		if err != nil {
			t.Fatalf("run: got error %v, want nil", err)
		}
		assertExact(t, r, l, "0")
		mu.Lock()
		n := len(stalled)
		mu.Unlock()
		if n == 0 || r.ByStatus["error"] < n || r.Resolved < n {
			t.Errorf("by_status %v, resolved %d: want at least %d errors, all resolved", r.ByStatus, r.Resolved, n)
		}
	})
	t.Run("503 after commit, no keys", func(t *testing.T) {
		t.Parallel()
		l := newLedger()
		l.fail = func(n int) bool { return n%10 == 0 }
		s := newService(t, l, serviceOpts{})
		r, err := runJSON(t, s.url(), "-c", "8", "-n", "100", "-keys", "none")
		if err != nil {
			t.Fatalf("run: got error %v, want nil (unverifiable is not a failure)", err)
		}
		if want := "unverifiable (10 keyless requests with unknown outcome)"; r.Check != want {
			t.Errorf("check: got %q, want %q", r.Check, want)
		}
		if r.ByStatus["503"] != 10 || r.Resolved != 0 {
			t.Errorf("by_status %v, resolved %d: want 10 × 503, none resolved", r.ByStatus, r.Resolved)
		}
	})
}

// TestRunCheckFails proves the check can fail: services that add twice,
// add duplicates again, lose additions, or share the total with another
// writer make run report a MISMATCH and return an error.
func TestRunCheckFails(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(l *memLedger) serviceOpts
		keys  string
		cmp   int // the sign of total_delta - accepted_sum
	}{
		{"double addition", func(l *memLedger) serviceOpts { l.double = true; return serviceOpts{} }, "unique", +1},
		{"double addition, no keys", func(l *memLedger) serviceOpts { l.double = true; return serviceOpts{} }, "none", +1},
		{"duplicates add again", func(l *memLedger) serviceOpts { l.unfenced = true; return serviceOpts{noStore: true} }, "dup:0.5", +1},
		{"lost addition", func(l *memLedger) serviceOpts { l.drop = func(n int) bool { return n == 7 }; return serviceOpts{} }, "unique", -1},
		{"another writer", func(l *memLedger) serviceOpts {
			var once sync.Once
			return serviceOpts{wrap: func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Method == http.MethodPost {
						once.Do(func() { l.Add(r.Context(), []idemsum.Addition{{Number: 1}}) })
					}
					h.ServeHTTP(w, r)
				})
			}}
		}, "dup:0.2", +1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := newLedger()
			s := newService(t, l, tt.setup(l))
			r, err := runJSON(t, s.url(), "-c", "4", "-n", "60", "-keys", tt.keys)
			if err == nil || !strings.Contains(err.Error(), "total check failed") {
				t.Errorf("run: got error %v, want the total check to fail", err)
			}
			if !strings.HasPrefix(r.Check, "MISMATCH") {
				t.Errorf("check: got %q, want MISMATCH", r.Check)
			}
			delta, _ := new(big.Int).SetString(r.TotalDelta, 10)
			accepted, _ := new(big.Int).SetString(r.Accepted, 10)
			if delta == nil || accepted == nil || delta.Cmp(accepted) != tt.cmp {
				t.Errorf("total_delta %s vs accepted_sum %s: want comparison %+d", r.TotalDelta, r.Accepted, tt.cmp)
			}
			if got := l.sum(); got != r.TotalDelta {
				t.Errorf("total_delta: got %s, want the ledger's %s", r.TotalDelta, got)
			}
		})
	}
}

// TestRunText checks the human-readable report.
func TestRunText(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		double bool
		check  string
	}{
		{"ok", false, "check      ok: total moved by 350, accepted additions sum to 350 (0 unknown outcomes resolved after the run)\n"},
		{"mismatch", true, "check      MISMATCH (another writer, or a lost or double addition): total moved by 700, accepted additions sum to 350 (0 unknown outcomes resolved after the run)\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := newLedger()
			l.double = tt.double
			s := newService(t, l, serviceOpts{})
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), []string{"sumload", "-urls", s.url(), "-n", "50", "-c", "2", "-min", "7", "-max", "7"}, &stdout, &stderr)
			if (err != nil) != tt.double {
				t.Errorf("run: got error %v, want error %v", err, tt.double)
			}
			out := stdout.String()
			for _, want := range []string{"requests   50 in ", "latency    p50 ", "status     200:50  (replayed 0)\n", tt.check} {
				if !strings.Contains(out, want) {
					t.Errorf("stdout %q: want it to contain %q", out, want)
				}
			}
			if stderr.Len() != 0 {
				t.Errorf("stderr: got %q, want nothing (not a terminal)", stderr.String())
			}
		})
	}
}

// TestRunTotalErrors checks that run fails, and prints no report, when it
// cannot read the total before or after the run.
func TestRunTotalErrors(t *testing.T) {
	t.Parallel()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	tests := []struct {
		name string
		get  func(w http.ResponseWriter, call int) // answers the call-th GET /sum
		url  string                                // instead of a test server
		want string
	}{
		{name: "unreachable", url: closed.URL, want: "read total before the run"},
		{name: "status 503", get: func(w http.ResponseWriter, _ int) { w.WriteHeader(503); w.Write([]byte(`{"total":1}`)) }, want: "read total before the run: client: gave up"},
		{name: "not JSON", get: func(w http.ResponseWriter, _ int) { w.Write([]byte(`total=1`)) }, want: "read total before the run"},
		{name: "fraction", get: func(w http.ResponseWriter, _ int) { w.Write([]byte(`{"total":1.5}`)) }, want: `total "1.5" is not a natural number`},
		{name: "exponent", get: func(w http.ResponseWriter, _ int) { w.Write([]byte(`{"total":1e3}`)) }, want: `total "1e3" is not a natural number`},
		{name: "string", get: func(w http.ResponseWriter, _ int) { w.Write([]byte(`{"total":"x"}`)) }, want: "read total before the run"},
		{name: "fails after", get: func(w http.ResponseWriter, call int) {
			if call > 1 {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			w.Write([]byte(`{"total":0}`))
		}, want: "read total after the run: client: gave up"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url := tt.url
			if url == "" {
				var gets atomic.Int64
				ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Method == http.MethodGet {
						tt.get(w, int(gets.Add(1)))
						return
					}
					w.Write([]byte(`{"total":1}`))
				}))
				t.Cleanup(ts.Close)
				url = ts.URL
			}
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), []string{"sumload", "-urls", url, "-n", "3", "-c", "1", "-json"}, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run: got error %v, want one containing %q", err, tt.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout: got %q, want no report", stdout.String())
			}
		})
	}
}

// TestRunBadConfig checks that run rejects bad flags before sending
// anything.
func TestRunBadConfig(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(ts.Close)
	for _, args := range [][]string{{"-c", "0"}, {"-keys", "some"}, {"-min", "9", "-max", "8"}, {"-bogus"}} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), append([]string{"sumload", "-urls", ts.URL, "-n", "5"}, args...), &stdout, &stderr)
		if err == nil {
			t.Errorf("run %q: got nil error, want one", args)
		}
		if stdout.Len() != 0 {
			t.Errorf("run %q: stdout %q, want nothing", args, stdout.String())
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("requests to the service: got %d, want 0", n)
	}
}

// TestResolveGivesUp checks that resolve stops, with an error naming the
// key, when the outcome of a key cannot be learned before the deadline.
func TestResolveGivesUp(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(ts.Close)
	l := newLoader(config{URLs: []string{ts.URL}, Concurrency: 1, Timeout: time.Second, Prefix: "k-"})
	l.unknown[1] = 5
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Millisecond)
	defer cancel()
	n, err := l.resolve(ctx)
	if err == nil || !strings.Contains(err.Error(), "could not resolve key k-1") {
		t.Errorf("resolve: got error %v, want one naming k-1", err)
	}
	if n != 0 || len(l.added) != 0 {
		t.Errorf("resolve: got %d resolved, added %v; want none", n, l.added)
	}
}
