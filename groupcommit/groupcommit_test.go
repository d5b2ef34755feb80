package groupcommit_test

import (
	"context"
	"errors"
	"math/big"
	"sort"
	"sync"
	"testing"
	"time"

	"idemsum"
	"idemsum/groupcommit"
)

// fakeLedger is an in-memory idemsum.Ledger that can hold batches back.
type fakeLedger struct {
	mu      sync.Mutex
	total   big.Int
	keys    map[string]idemsum.Result
	sizes   []int
	gate    chan struct{} // when set, each Add waits for a value
	entered chan struct{} // when set, told each time Add is entered
	failing bool
}

func (f *fakeLedger) Add(_ context.Context, adds []idemsum.Addition) ([]idemsum.Result, error) {
	if f.entered != nil {
		f.entered <- struct{}{}
	}
	if f.gate != nil {
		<-f.gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sizes = append(f.sizes, len(adds))
	if f.failing {
		return nil, errors.New("mysql down")
	}
	res := make([]idemsum.Result, len(adds))
	for i, a := range adds {
		if r, ok := f.keys[a.Key]; ok && a.Key != "" {
			r.Existing = true
			res[i] = r
			continue
		}
		f.total.Add(&f.total, new(big.Int).SetUint64(a.Number))
		res[i] = idemsum.Result{Total: f.total.String(), Number: a.Number}
		if a.Key != "" {
			f.keys[a.Key] = res[i]
		}
	}
	return res, nil
}

func (f *fakeLedger) Total(context.Context) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.total.String(), nil
}

func newFake() *fakeLedger { return &fakeLedger{keys: map[string]idemsum.Result{}} }

func TestAdderGivesEachCallerItsOwnTotal(t *testing.T) {
	t.Parallel()
	f := newFake()
	a := groupcommit.New(f, 16, time.Millisecond, 2)
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

func TestAdderBatchesWhileFlushersAreBusy(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.gate = make(chan struct{})
	f.entered = make(chan struct{}, 16)
	a := groupcommit.New(f, 8, 0, 1)
	var wg sync.WaitGroup
	add := func(k string) {
		defer wg.Done()
		if _, err := a.Add(context.Background(), idemsum.Addition{Key: k, Number: 1}); err != nil {
			t.Errorf("add: %v", err)
		}
	}
	wg.Add(1)
	go add("first") // takes the only flusher and waits at the gate
	<-f.entered
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go add(string(rune('a' + i)))
	}
	waitQueued(t, a, f)
	close(f.gate)
	wg.Wait()
	a.Close()
	f.mu.Lock()
	defer f.mu.Unlock()
	if want := []int{1, 8}; len(f.sizes) != 2 || f.sizes[0] != 1 || f.sizes[1] != 8 {
		t.Errorf("batch sizes got %v, want %v", f.sizes, want)
	}
}

// waitQueued polls until the 8 callers wait: 7 in the queue and one taken
// by the Adder's loop, which waits for the busy flusher.
func waitQueued(t *testing.T, a *groupcommit.Adder, _ *fakeLedger) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for groupcommit.Queued(a) < 7 {
		if time.Now().After(deadline) {
			t.Fatalf("queued got %d, want 7", groupcommit.Queued(a))
		}
		time.Sleep(time.Millisecond)
	}
}

func TestAdderErrorReachesEveryCaller(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.failing = true
	a := groupcommit.New(f, 4, 0, 1)
	defer a.Close()
	if _, err := a.Add(context.Background(), idemsum.Addition{Number: 1}); err == nil {
		t.Fatal("got nil error, want the ledger's error")
	}
}

func TestAdderAfterCloseRefuses(t *testing.T) {
	t.Parallel()
	a := groupcommit.New(newFake(), 4, 0, 1)
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
	f := &fakeLedger{keys: map[string]idemsum.Result{}}
	a := groupcommit.New(f, 8, 0, 1)
	defer a.Close()
	for _, n := range []uint64{0, idemsum.MaxNumber + 1} {
		if _, err := a.Add(context.Background(), idemsum.Addition{Number: n}); idemsum.ErrorCode(err) != idemsum.EINVALID {
			t.Errorf("Add(%d): got %v, want an %s error", n, err, idemsum.EINVALID)
		}
	}
	if len(f.sizes) != 0 {
		t.Errorf("the ledger saw batches %v, want none", f.sizes)
	}
}
