package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idemsum/idemsum"
	"github.com/idemsum/idemsum/idempotency"
	"github.com/idemsum/idemsum/idempotency/idempotencytest"
	"github.com/idemsum/idemsum/idemsumtest"
	"github.com/idemsum/idemsum/server"
)

// memLedger is the in-memory idemsumtest.Ledger with switches. Left as
// it is, it is correct; its switches turn it into the broken ledgers the
// exactness check must catch, or make it fail the way MySQL does.
type memLedger struct {
	*idemsumtest.Ledger

	double   bool // bug: adds every number twice
	unfenced bool // bug: ignores keys, so every duplicate adds again
	// drop, when set, acknowledges the nth fresh addition (1-based)
	// without adding it: a lost addition (its key is recorded with 0).
	drop func(n int) bool
	// fail, when set, commits the nth fresh addition and then reports an
	// error, as when the connection breaks during COMMIT: the outcome is
	// unknown to the client, and a retry with the same key is a replay.
	fail func(n int) bool

	mu sync.Mutex // serialises Add, so that n counts in commit order
	n  int        // fresh additions so far
}

var _ idemsum.Ledger = (*memLedger)(nil)

var errCommit = errors.New("invalid connection") // what the driver says when COMMIT's reply is lost

func newLedger() *memLedger { return &memLedger{Ledger: &idemsumtest.Ledger{}} }

// Add adds each addition on its own, through the switches.
func (l *memLedger) Add(ctx context.Context, adds []idemsum.Addition) ([]idemsum.Result, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	res := make([]idemsum.Result, len(adds))
	failed := false
	for i, a := range adds {
		r, err := l.addOne(ctx, a)
		if err != nil {
			return nil, err
		}
		res[i] = r
		failed = failed || (!r.Existing && l.fail != nil && l.fail(l.n))
	}
	if failed {
		return nil, errCommit
	}
	return res, nil
}

func (l *memLedger) addOne(ctx context.Context, a idemsum.Addition) (idemsum.Result, error) {
	in := a
	if l.unfenced {
		in.Key = ""
	}
	if l.drop != nil && l.drop(l.n+1) {
		in.Number = 0 // acknowledged below as a, not added
	}
	rs, err := l.Ledger.Add(ctx, []idemsum.Addition{in})
	if err != nil {
		return idemsum.Result{}, err
	}
	if rs[0].Existing {
		return rs[0], nil
	}
	l.n++
	r := rs[0]
	r.Number = a.Number
	if l.double {
		again, err := l.Ledger.Add(ctx, []idemsum.Addition{{Number: a.Number}})
		if err != nil {
			return idemsum.Result{}, err
		}
		r.Total = again[0].Total
	}
	return r, nil
}

// set sets the total, as if earlier runs had added to it: keyless
// additions, bypassing the switches.
func (l *memLedger) set(tb testing.TB, total string) {
	tb.Helper()
	rest, ok := new(big.Int).SetString(total, 10)
	if !ok {
		tb.Fatalf("set total %q: not an integer", total)
	}
	for rest.Sign() > 0 {
		n := uint64(idemsum.MaxNumber)
		if rest.IsUint64() {
			n = min(n, rest.Uint64())
		}
		if _, err := l.Ledger.Add(context.Background(), []idemsum.Addition{{Number: n}}); err != nil {
			tb.Fatalf("set total %q: %v", total, err)
		}
		rest.Sub(rest, new(big.Int).SetUint64(n))
	}
}

// sum returns the total.
func (l *memLedger) sum() string {
	total, _ := l.Total(context.Background())
	return total
}

// service is the real server over l, as one or more instances.
type service struct {
	URLs  []string
	posts []atomic.Int64 // POST /sum requests served, per instance
}

// serviceOpts change how newService builds the service.
type serviceOpts struct {
	instances int
	noStore   bool // Guard without a Store: the ledger's fence alone
	// wrap, when set, wraps the handler of each instance.
	wrap func(http.Handler) http.Handler
}

// newService starts the real server handler over l, with a MemStore
// shared by all instances, the way sumd instances share MySQL and Redis.
func newService(tb testing.TB, l *memLedger, o serviceOpts) *service {
	tb.Helper()
	g := &idempotency.Guard{Lease: 5 * time.Second, TTL: time.Hour}
	if !o.noStore {
		g.Store = idempotencytest.NewMemStore(nil)
	}
	h := server.NewServer(server.Deps{
		Service:   &server.Service{Adder: idemsum.Unbatched(l), Ledger: l, Guard: g},
		PingMySQL: func(context.Context) error { return nil },
	})
	if o.wrap != nil {
		h = o.wrap(h)
	}
	s := &service{posts: make([]atomic.Int64, max(o.instances, 1))}
	for i := range s.posts {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && r.URL.Path == "/sum" {
				s.posts[i].Add(1)
			}
			h.ServeHTTP(w, r)
		}))
		tb.Cleanup(ts.Close)
		s.URLs = append(s.URLs, ts.URL)
	}
	return s
}

// sent is the number of POST /sum requests served over all instances.
func (s *service) sent() int {
	n := 0
	for i := range s.posts {
		n += int(s.posts[i].Load())
	}
	return n
}

// url is the value of -urls for the service.
func (s *service) url() string { return strings.Join(s.URLs, ",") }

// runJSON runs sumload with -json and the extra args, and returns the
// error of run and the report it printed.
func runJSON(tb testing.TB, urls string, args ...string) (report, error) {
	tb.Helper()
	var stdout, stderr bytes.Buffer
	argv := append([]string{"sumload", "-json", "-progress=false", "-urls", urls}, args...)
	err := run(context.Background(), argv, &stdout, &stderr)
	var r report
	dec := json.NewDecoder(&stdout)
	dec.DisallowUnknownFields()
	if derr := dec.Decode(&r); derr != nil {
		tb.Fatalf("run %q: stdout %q is not a JSON report: %v (run error %v, stderr %q)", args, stdout.String(), derr, err, stderr.String())
	}
	if dec.More() {
		tb.Errorf("run %q: stdout has more than one JSON value: %q", args, stdout.String())
	}
	return r, err
}

// statusSum is the number of requests counted in r.ByStatus.
func statusSum(r report) int {
	n := 0
	for _, c := range r.ByStatus {
		n += c
	}
	return n
}

// assertExact checks that r passed the check and that its numbers agree:
// the delta it reports is what the ledger moved by since before.
func assertExact(tb testing.TB, r report, l *memLedger, before string) {
	tb.Helper()
	if r.Check != "ok" {
		tb.Errorf("check: got %q, want ok (report %+v)", r.Check, r)
	}
	if r.TotalDelta != r.Accepted {
		tb.Errorf("total_delta %s != accepted_sum %s", r.TotalDelta, r.Accepted)
	}
	b, _ := new(big.Int).SetString(before, 10)
	a, _ := new(big.Int).SetString(l.sum(), 10)
	if got, want := r.TotalDelta, new(big.Int).Sub(a, b).String(); got != want {
		tb.Errorf("total_delta: got %s, want %s (ledger went from %s to %s)", got, want, before, l.sum())
	}
	if n := statusSum(r); n != r.Requests {
		tb.Errorf("by_status %v adds up to %d, want requests %d", r.ByStatus, n, r.Requests)
	}
}
