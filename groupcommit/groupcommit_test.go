package groupcommit_test

import (
	"context"
	"errors"
	"math/big"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/idemsum/idemsum"
	"github.com/idemsum/idemsum/groupcommit"
	"github.com/idemsum/idemsum/idemsumtest"
)

func TestAdderGivesEachCallerItsOwnTotal(t *testing.T) {
	t.Parallel()
	a := groupcommit.New(&idemsumtest.Ledger{}, 16, time.Millisecond, 2)
	defer a.Close()
	const n = 500
	results := make([]idemsum.Result, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r, err := a.Add(context.Background(), idemsum.Addition{Number: uint64(i + 1)})
			if err != nil {
				t.Errorf("add %d: %v", i, err)
			}
			results[i] = r
		}(i)
	}
	wg.Wait()
	sort.Slice(results, func(i, j int) bool { return bigOf(t, results[i].Total).Cmp(bigOf(t, results[j].Total)) < 0 })
	prev := new(big.Int)
	for _, r := range results {
		before := new(big.Int).Sub(bigOf(t, r.Total), new(big.Int).SetUint64(r.Number))
		if before.Cmp(prev) != 0 {
			t.Fatalf("total %s - number %d = %s, want previous total %s", r.Total, r.Number, before, prev)
		}
		prev = bigOf(t, r.Total)
	}
	if got, want := prev.String(), "125250"; got != want {
		t.Errorf("final total got %s, want %s", got, want)
	}
}

// TestAdderBatchesWhileFlushersAreBusy: while the only flusher is busy,
// additions queue up, and leave as one batch when it frees up. The
// flusher is freed only once all 8 additions are surely queued.
func TestAdderBatchesWhileFlushersAreBusy(t *testing.T) {
	t.Parallel()
	l := &idemsumtest.Ledger{Gate: make(chan struct{}), Entered: make(chan struct{}, 16)}
	a := groupcommit.New(l, 8, 0, 1)
	queued := make(chan struct{}, 16)
	groupcommit.OnQueued(a, func() { queued <- struct{}{} })
	var wg sync.WaitGroup
	add := func(k string) {
		defer wg.Done()
		if _, err := a.Add(context.Background(), idemsum.Addition{Key: k, Number: 1}); err != nil {
			t.Errorf("add: %v", err)
		}
	}
	wg.Add(1)
	go add("first") // takes the only flusher and waits at the gate
	<-l.Entered
	<-queued
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go add(string(rune('a' + i)))
	}
	for range 8 {
		<-queued
	}
	// The 8 callers wait: in the queue, but for the one the Adder's loop
	// may have taken and holds while it waits for the busy flusher.
	if n := groupcommit.Queued(a); n < 7 {
		t.Errorf("queued additions: got %d, want at least 7 (the loop waits for a free flusher)", n)
	}
	close(l.Gate)
	wg.Wait()
	a.Close()
	wantBatches(t, l, []int{1, 8})
}

func TestAdderErrorReachesEveryCaller(t *testing.T) {
	t.Parallel()
	errDown := errors.New("mysql down")
	l := &idemsumtest.Ledger{}
	l.SetErr(errDown)
	a := groupcommit.New(l, 4, 0, 1)
	defer a.Close()
	if _, err := a.Add(context.Background(), idemsum.Addition{Number: 1}); !errors.Is(err, errDown) {
		t.Fatalf("got error %v, want the ledger's %v", err, errDown)
	}
}

func TestAdderAfterCloseRefuses(t *testing.T) {
	t.Parallel()
	a := groupcommit.New(&idemsumtest.Ledger{}, 4, 0, 1)
	a.Close()
	a.Close()
	_, err := a.Add(context.Background(), idemsum.Addition{Number: 1})
	if got := idemsum.ErrorCode(err); got != idemsum.EUNAVAILABLE {
		t.Errorf("error code got %q, want %q", got, idemsum.EUNAVAILABLE)
	}
}

func bigOf(t *testing.T, s string) *big.Int {
	t.Helper()
	b, ok := new(big.Int).SetString(s, 10)
	if !ok {
		t.Fatalf("total %q is not an integer", s)
	}
	return b
}

// TestAdderRefusesNumbersOutOfRange: a number out of range is refused at
// once and never reaches the Ledger, so it cannot fail its batch-mates.
func TestAdderRefusesNumbersOutOfRange(t *testing.T) {
	t.Parallel()
	f := &idemsumtest.Ledger{}
	a := groupcommit.New(f, 8, 0, 1)
	defer a.Close()
	for _, n := range []uint64{0, idemsum.MaxNumber + 1} {
		if _, err := a.Add(context.Background(), idemsum.Addition{Number: n}); idemsum.ErrorCode(err) != idemsum.EINVALID {
			t.Errorf("Add(%d): got %v, want an %s error", n, err, idemsum.EINVALID)
		}
	}
	if b := f.Batches(); len(b) != 0 {
		t.Errorf("the ledger saw batches %v, want none", b)
	}
}
