package idemsumtest_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idemsum/idemsum"
	"github.com/idemsum/idemsum/idemsumtest"
)

// lossy is a Ledger over l whose Adds fail in turn before reaching l
// (code idemsum.EUNAVAILABLE), after l committed them (the reply lost),
// and not at all: the failures that Harness.Flaky asks for.
type lossy struct {
	l idemsum.Ledger
	n atomic.Int64
}

var errLost = errors.New("connection lost")

func (f *lossy) Add(ctx context.Context, adds []idemsum.Addition) ([]idemsum.Result, error) {
	switch f.n.Add(1) % 3 {
	case 0:
		return nil, idemsum.Unavailable(errLost)
	case 1:
		f.l.Add(ctx, adds)
		return nil, errLost
	}
	return f.l.Add(ctx, adds)
}

func (f *lossy) Total(ctx context.Context) (string, error) { return f.l.Total(ctx) }

// memHarness makes in-memory Ledgers, flaky through lossy.
var memHarness = idemsumtest.Harness{
	New:   func(*testing.T) idemsum.Ledger { return &idemsumtest.Ledger{} },
	Flaky: func(_ *testing.T, l idemsum.Ledger) idemsum.Ledger { return &lossy{l: l} },
}

func TestLedgerConforms(t *testing.T) {
	t.Parallel()
	idemsumtest.TestLedger(t, memHarness)
}

// TestLedgerSwitches checks what a test drives the Ledger with: its
// clock, SetErr, Batches and Reads.
func TestLedgerSwitches(t *testing.T) {
	t.Parallel()
	at := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	l := &idemsumtest.Ledger{Now: func() time.Time { return at }}
	ctx := context.Background()
	errDown := errors.New("mysql down")
	steps := []struct {
		err  error
		adds []idemsum.Addition
		want []idemsum.Result
	}{
		{nil, []idemsum.Addition{{Key: "k", Number: 5}, {Number: 2}}, []idemsum.Result{{Total: "5", Number: 5, Created: at}, {Total: "7", Number: 2, Created: at}}},
		{errDown, []idemsum.Addition{{Key: "j", Number: 1}}, nil},
		{nil, []idemsum.Addition{{Key: "j", Number: 1}, {Key: "k", Number: 9}}, []idemsum.Result{{Total: "8", Number: 1, Created: at}, {Total: "5", Number: 5, Existing: true, Created: at}}},
	}
	var batches [][]idemsum.Addition
	for i, st := range steps {
		l.SetErr(st.err)
		got, err := l.Add(ctx, st.adds)
		if !errors.Is(err, st.err) || !slices.Equal(got, st.want) {
			t.Errorf("step %d: Add got %+v, %v; want %+v, %v", i, got, err, st.want, st.err)
		}
		total, err := l.Total(ctx)
		if !errors.Is(err, st.err) || (err == nil) != (total != "") {
			t.Errorf("step %d: Total got %q, %v; want an error %v or a total", i, total, err, st.err)
		}
		batches = append(batches, st.adds)
	}
	if got := l.Batches(); !slices.EqualFunc(got, batches, slices.Equal) {
		t.Errorf("Batches: got %v, want %v", got, batches)
	}
	if got := l.Reads(); got != len(steps) {
		t.Errorf("Reads: got %d, want %d", got, len(steps))
	}
}

// TestLedgerGate checks that Entered tells of an Add held at the Gate,
// and that each value sent on Gate lets one Add through.
func TestLedgerGate(t *testing.T) {
	t.Parallel()
	entered, gate := make(chan struct{}, 2), make(chan struct{})
	l := &idemsumtest.Ledger{Entered: entered, Gate: gate}
	done := make(chan []idemsum.Result, 2)
	for range 2 {
		go func() {
			res, _ := l.Add(context.Background(), []idemsum.Addition{{Number: 1}})
			done <- res
		}()
	}
	<-entered
	<-entered
	if got := len(l.Batches()); got != 0 {
		t.Fatalf("Batches with two Adds held at the gate: got %d, want 0", got)
	}
	gate <- struct{}{}
	first := <-done
	select {
	case res := <-done:
		t.Fatalf("second Add: got %+v before the gate let it through", res)
	default:
	}
	close(gate)
	second := <-done
	if first[0].Total != "1" || second[0].Total != "2" {
		t.Errorf("totals: got %s then %s, want 1 then 2", first[0].Total, second[0].Total)
	}
}
