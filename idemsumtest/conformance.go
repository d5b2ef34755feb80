package idemsumtest

import (
	"context"
	"testing"

	"github.com/idemsum/idemsum"
)

// Harness tells TestLedger and TestAdder how to make the Ledger under
// test.
type Harness struct {
	// New returns a new, empty Ledger (total 0, no key recorded) that
	// shares nothing with any other it returned, and stamps Created by the
	// real clock. The suites call it once per subtest, from parallel
	// subtests.
	New func(t *testing.T) idemsum.Ledger

	// Flaky returns a Ledger over the state of l, a Ledger that New
	// returned, whose Adds fail now and then the way the implementation
	// can fail (a connection lost, a timeout), before or after committing:
	// the outcome unknown to the caller, as idemsum.Ledger allows, unless
	// the error's code is idemsum.EUNAVAILABLE (nothing committed). Nil
	// skips TestLedger's subtests RetryAfterError and UnavailableAddsNothing.
	Flaky func(t *testing.T, l idemsum.Ledger) idemsum.Ledger
}

// subject is what a subtest drives: a Ledger, and add, which commits
// additions through the Ledger itself or through an Adder over it.
type subject struct {
	ledger idemsum.Ledger
	add    func(ctx context.Context, adds []idemsum.Addition) ([]idemsum.Result, error)
	// batched reports that add commits adds at once (Ledger.Add), not one
	// Adder.Add after the other.
	batched bool
}

type suiteTest struct {
	name string
	run  func(t *testing.T, s subject)
}

// TestLedger checks that the Ledgers h makes keep the idemsum.Ledger
// contract: additions commit in one serial order, so that each fresh
// Result's Total minus its Number is the Total before it, and Total reads
// the last one; a key is added once, and a key recorded earlier or
// repeated earlier in the same batch yields an Existing Result with the
// first addition's Number, Total and Created; keyless additions always
// add; keys are exact byte strings; totals stay exact past 2^64; a new
// addition is Created at its commit; many goroutines adding overlapping
// keys at once add each key once and all see its one Result; after errors
// (h.Flaky), retrying the same keys adds each exactly once; and an error
// with code idemsum.EUNAVAILABLE committed nothing. Subtests run in
// parallel, each on a Ledger of its own.
func TestLedger(t *testing.T, h Harness) {
	t.Helper()
	tests := append(serialTests(), suiteTest{"Concurrent", testConcurrent})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := h.New(t)
			tt.run(t, subject{ledger: l, add: l.Add, batched: true})
		})
	}
	t.Run("RetryAfterError", func(t *testing.T) {
		t.Parallel()
		if h.Flaky == nil {
			t.Skip("Harness.Flaky is nil")
		}
		l := h.New(t)
		flaky := h.Flaky(t, l)
		testRetry(t, subject{ledger: l, add: l.Add, batched: true}, flaky.Add)
	})
	t.Run("UnavailableAddsNothing", func(t *testing.T) {
		t.Parallel()
		if h.Flaky == nil {
			t.Skip("Harness.Flaky is nil")
		}
		l := h.New(t)
		testUnavailable(t, subject{ledger: l, add: l.Add, batched: true}, h.Flaky(t, l).Add)
	})
}

// TestAdder checks that the Adders newAdder makes over the Ledgers h makes
// keep the idemsum.Adder contract, which is Ledger.Add's for one Addition
// at a time: every subtest of TestLedger, with each batch sent as
// Additions one after the other, and RetryAfterError over a Ledger that
// fails one Add in three before committing and one in three after (so
// that the Adder's callers get errors of either kind), and
// UnavailableAddsNothing over the same Ledger. newAdder is called once per
// subtest, from parallel subtests.
func TestAdder(t *testing.T, h Harness, newAdder func(t *testing.T, l idemsum.Ledger) idemsum.Adder) {
	t.Helper()
	tests := append(serialTests(), suiteTest{"Concurrent", testConcurrent})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := h.New(t)
			tt.run(t, subject{ledger: l, add: oneByOne(newAdder(t, l))})
		})
	}
	t.Run("RetryAfterError", func(t *testing.T) {
		t.Parallel()
		l := h.New(t)
		flaky := oneByOne(newAdder(t, &unreliable{l: l}))
		testRetry(t, subject{ledger: l, add: oneByOne(newAdder(t, l))}, flaky)
	})
	t.Run("UnavailableAddsNothing", func(t *testing.T) {
		t.Parallel()
		l := h.New(t)
		flaky := oneByOne(newAdder(t, &unreliable{l: l}))
		testUnavailable(t, subject{ledger: l, add: oneByOne(newAdder(t, l))}, flaky)
	})
}

// oneByOne returns a batch adder that sends adds through a one at a time.
func oneByOne(a idemsum.Adder) func(context.Context, []idemsum.Addition) ([]idemsum.Result, error) {
	return func(ctx context.Context, adds []idemsum.Addition) ([]idemsum.Result, error) {
		res := make([]idemsum.Result, len(adds))
		for i, x := range adds {
			r, err := a.Add(ctx, x)
			if err != nil {
				return nil, err
			}
			res[i] = r
		}
		return res, nil
	}
}
