package idemsumtest_test

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idemsum/idemsum"
	"github.com/idemsum/idemsum/idemsumtest"
)

// brokenEnv names the bug TestBrokenLedger plants, in a child process.
const brokenEnv = "IDEMSUM_BROKEN_LEDGER"

// brokenLedger is an idemsumtest.Ledger with one bug, chosen by name.
type brokenLedger struct {
	*idemsumtest.Ledger
	bug string

	mu      sync.Mutex
	seen    map[string]idemsum.Result // for "check then add"
	waiting chan struct{}             // a caller waiting in meet
}

// meet waits up to 50 ms for another caller to reach the same point, so
// that the planted check-then-add race happens in every run, not by luck.
func (b *brokenLedger) meet() {
	b.mu.Lock()
	if w := b.waiting; w != nil {
		b.waiting = nil
		b.mu.Unlock()
		close(w)
		return
	}
	w := make(chan struct{})
	b.waiting = w
	b.mu.Unlock()
	t := time.NewTimer(50 * time.Millisecond)
	defer t.Stop()
	select {
	case <-w:
	case <-t.C:
		b.mu.Lock()
		if b.waiting == w {
			b.waiting = nil
		}
		b.mu.Unlock()
	}
}

func (b *brokenLedger) Add(ctx context.Context, adds []idemsum.Addition) ([]idemsum.Result, error) {
	if b.bug == "check then add" {
		return b.checkThenAdd(ctx, adds)
	}
	in := make([]idemsum.Addition, len(adds))
	for i, a := range adds {
		in[i] = b.key(a, adds[:i])
	}
	res, err := b.Ledger.Add(ctx, in)
	for i := range res {
		b.result(&res[i], adds[i])
	}
	return res, err
}

// key returns a as the buggy ledger records it, after earlier in its batch.
func (b *brokenLedger) key(a idemsum.Addition, earlier []idemsum.Addition) idemsum.Addition {
	switch b.bug {
	case "recorded keys add again":
		a.Key = ""
	case "repeats in a batch add again":
		for _, e := range earlier {
			if e.Key == a.Key {
				a.Key = ""
			}
		}
	case "keys fold case":
		a.Key = strings.ToLower(a.Key)
	case "keyless additions are one key":
		if a.Key == "" {
			a.Key = "\x00keyless"
		}
	}
	return a
}

// result changes r, the Result of a, as the buggy ledger reports it.
func (b *brokenLedger) result(r *idemsum.Result, a idemsum.Addition) {
	switch {
	case b.bug == "total before the addition" && !r.Existing:
		r.Total = sub(r.Total, r.Number)
	case b.bug == "totals as float64":
		r.Total = viaFloat(r.Total)
	case b.bug == "existing created anew" && r.Existing:
		r.Created = time.Now()
	case b.bug == "existing with the new number" && r.Existing:
		r.Number = a.Number
	}
}

// checkThenAdd looks each key up and adds it in two steps, so that
// concurrent batches both add a key that neither found.
func (b *brokenLedger) checkThenAdd(ctx context.Context, adds []idemsum.Addition) ([]idemsum.Result, error) {
	res := make([]idemsum.Result, len(adds))
	for i, a := range adds {
		b.mu.Lock()
		r, ok := b.seen[a.Key]
		b.mu.Unlock()
		if ok {
			r.Existing = true
			res[i] = r
			continue
		}
		b.meet()
		rs, err := b.Ledger.Add(ctx, []idemsum.Addition{{Number: a.Number}})
		if err != nil {
			return nil, err
		}
		res[i] = rs[0]
		if a.Key != "" {
			b.mu.Lock()
			b.seen[a.Key] = rs[0]
			b.mu.Unlock()
		}
	}
	return res, nil
}

func (b *brokenLedger) Total(ctx context.Context) (string, error) {
	t, err := b.Ledger.Total(ctx)
	if b.bug == "totals as float64" {
		t = viaFloat(t)
	}
	return t, err
}

func sub(total string, n uint64) string {
	t, _ := strconv.ParseUint(total, 10, 64)
	return strconv.FormatUint(t-n, 10)
}

func viaFloat(total string) string {
	f, _ := strconv.ParseFloat(total, 64)
	return strconv.FormatFloat(f, 'f', 0, 64)
}

// halfCommit is the Flaky Ledger of "half commit on error": one Add in
// three records its keys without their numbers and then fails.
type halfCommit struct {
	idemsum.Ledger
	mu sync.Mutex
	n  int
}

func (h *halfCommit) Add(ctx context.Context, adds []idemsum.Addition) ([]idemsum.Result, error) {
	h.mu.Lock()
	h.n++
	half := h.n%3 == 0
	h.mu.Unlock()
	if !half {
		return h.Ledger.Add(ctx, adds)
	}
	zero := make([]idemsum.Addition, len(adds))
	for i, a := range adds {
		zero[i] = idemsum.Addition{Key: a.Key}
	}
	h.Ledger.Add(ctx, zero)
	return nil, errLost
}

// claimsUnavailable is the Flaky Ledger of "unavailable after
// committing": one Add in three commits and then fails with code
// idemsum.EUNAVAILABLE, which says that nothing was added.
type claimsUnavailable struct {
	idemsum.Ledger
	n atomic.Int64
}

func (c *claimsUnavailable) Add(ctx context.Context, adds []idemsum.Addition) ([]idemsum.Result, error) {
	res, err := c.Ledger.Add(ctx, adds)
	if err == nil && c.n.Add(1)%3 == 0 {
		return nil, idemsum.Unavailable(errLost)
	}
	return res, err
}

// brokenAdder is idemsum.Unbatched with one bug, chosen by name.
type brokenAdder struct {
	l   idemsum.Ledger
	bug string
}

func (b brokenAdder) Add(ctx context.Context, a idemsum.Addition) (idemsum.Result, error) {
	r, err := idemsum.Unbatched(b.l).Add(ctx, a)
	switch {
	case b.bug == "adder drops errors" && err != nil:
		return idemsum.Result{}, nil
	case b.bug == "adder reports the latest total" && err == nil:
		runtime.Gosched()
		r.Total, err = b.l.Total(ctx)
	}
	return r, err
}

// TestBrokenLedger runs a suite on a broken Ledger or Adder when a parent
// TestSuiteCatches asks it to; otherwise it is skipped.
func TestBrokenLedger(t *testing.T) {
	bug := os.Getenv(brokenEnv)
	if bug == "" {
		t.Skip("run by TestSuiteCatches")
	}
	if strings.HasPrefix(bug, "adder ") {
		idemsumtest.TestAdder(t, memHarness, func(_ *testing.T, l idemsum.Ledger) idemsum.Adder { return brokenAdder{l, bug} })
		return
	}
	h := idemsumtest.Harness{
		New: func(*testing.T) idemsum.Ledger {
			return &brokenLedger{Ledger: &idemsumtest.Ledger{}, bug: bug, seen: map[string]idemsum.Result{}}
		},
		Flaky: memHarness.Flaky,
	}
	switch bug {
	case "half commit on error":
		h.Flaky = func(_ *testing.T, l idemsum.Ledger) idemsum.Ledger { return &halfCommit{Ledger: l} }
	case "unavailable after committing":
		h.Flaky = func(_ *testing.T, l idemsum.Ledger) idemsum.Ledger { return &claimsUnavailable{Ledger: l} }
	}
	idemsumtest.TestLedger(t, h)
}

// TestSuiteCatches checks that TestLedger and TestAdder have teeth: each
// planted bug fails the subtest meant to find it.
func TestSuiteCatches(t *testing.T) {
	if os.Getenv(brokenEnv) != "" {
		t.Skip("in the child process")
	}
	tests := map[string]string{
		"repeats in a batch add again":   "DuplicatesInBatch",
		"recorded keys add again":        "DuplicatesAcrossBatches",
		"keys fold case":                 "ExactKeys",
		"keyless additions are one key":  "KeylessAlwaysAdds",
		"total before the addition":      "SerialOrder",
		"totals as float64":              "HugeTotals",
		"existing created anew":          "Created",
		"existing with the new number":   "ExistingKeys",
		"check then add":                 "Concurrent",
		"half commit on error":           "RetryAfterError",
		"unavailable after committing":   "UnavailableAddsNothing",
		"adder drops errors":             "RetryAfterError",
		"adder reports the latest total": "Concurrent",
	}
	for bug, subtest := range tests {
		t.Run(bug, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenLedger$", "-test.v")
			cmd.Env = append(os.Environ(), brokenEnv+"="+bug)
			out, err := cmd.CombinedOutput()
			if want := "--- FAIL: TestBrokenLedger/" + subtest + " "; err == nil || !strings.Contains(string(out), want) {
				t.Fatalf("suite on a ledger whose %s: got error %v and no %q in output:\n%s", bug, err, want, out)
			}
		})
	}
}
