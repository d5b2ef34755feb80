package idemsumtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/idemsum/idemsum"
)

// Sizes of the concurrent subtests.
const (
	workers    = 16
	sharedKeys = 48
)

// workload returns the additions of worker w: every shared key (key k
// with number k+1) in an order of its own, after one keyless addition
// when keyless is set.
func workload(w int, keyless bool) []idemsum.Addition {
	rng := rand.New(rand.NewPCG(uint64(w), 7))
	var adds []idemsum.Addition
	if keyless {
		adds = append(adds, idemsum.Addition{Number: uint64(1000 + w)})
	}
	for _, k := range rng.Perm(sharedKeys) {
		adds = append(adds, idemsum.Addition{Key: fmt.Sprintf("shared-%02d", k), Number: uint64(k + 1)})
	}
	return adds
}

// runWorkers runs every worker's workload at once, in batches of 1 to 8
// through send, and returns the outcomes of all. A worker stops at its
// first error, which fails tb.
func runWorkers(tb testing.TB, keyless bool, send func(adds []idemsum.Addition) ([]idemsum.Result, error)) []outcome {
	var (
		mu       sync.Mutex
		outcomes []outcome
		wg       sync.WaitGroup
		start    = make(chan struct{})
	)
	for w := range workers {
		wg.Go(func() {
			<-start
			rng := rand.New(rand.NewPCG(uint64(w), 8))
			for adds := workload(w, keyless); len(adds) > 0; {
				n := min(len(adds), 1+rng.IntN(8))
				res, err := send(adds[:n:n])
				if err != nil {
					tb.Errorf("worker %d: add %v: got error %v, want nil", w, adds[:n], err)
					return
				}
				mu.Lock()
				for i, r := range res {
					outcomes = append(outcomes, outcome{adds[i], r})
				}
				mu.Unlock()
				adds = adds[n:]
			}
		})
	}
	close(start)
	wg.Wait()
	return outcomes
}

// testConcurrent has many goroutines add the same keys at once, in
// different orders and batches: each key is added once, every caller of a
// key gets its one Result, and all fresh Results form one serial order.
func testConcurrent(t *testing.T, s subject) {
	outcomes := runWorkers(t, true, func(adds []idemsum.Addition) ([]idemsum.Result, error) {
		return s.add(context.Background(), adds)
	})
	if t.Failed() {
		return
	}
	added := map[string]idemsum.Result{}
	var fresh []outcome
	for _, o := range outcomes {
		if o.res.Existing {
			continue
		}
		fresh = append(fresh, o)
		if prev, ok := added[o.add.Key]; ok && o.add.Key != "" {
			t.Errorf("key %s: added twice, got %+v and %+v", o.add.Key, prev, o.res)
		}
		added[o.add.Key] = o.res
	}
	if got := len(added) - 1; got != sharedKeys { // less the keyless ""
		t.Errorf("keys added: got %d, want %d", got, sharedKeys)
	}
	for _, o := range outcomes {
		if want, ok := added[o.add.Key]; ok && o.add.Key != "" && !sameResult(o.res, want) {
			t.Errorf("key %s: got %+v, want its one Result %+v", o.add.Key, o.res, want)
		}
	}
	checkLinear(t, fresh, mustTotal(t, s.ledger))
}

// maxFlaky is how often testRetry sends a batch through the flaky Ledger
// before it retries through the reliable one.
const maxFlaky = 4

// testRetry has many goroutines add the same keys at once through flaky,
// and each batch that fails again with the same keys, through flaky and
// after maxFlaky errors through s: in the end every key was added exactly
// once, and nothing else. (Keyless additions with an error are not safe
// to retry, so this workload has none.)
func testRetry(t *testing.T, s subject, flaky func(context.Context, []idemsum.Addition) ([]idemsum.Result, error)) {
	var retried atomic.Int64
	outcomes := runWorkers(t, false, func(adds []idemsum.Addition) ([]idemsum.Result, error) {
		for try := 1; ; try++ {
			send := flaky
			if try > maxFlaky {
				send = s.add
			}
			res, err := send(context.Background(), adds)
			if err == nil || try > maxFlaky {
				return res, err
			}
			retried.Add(1)
		}
	})
	t.Logf("%d batches failed and were sent again", retried.Load())
	if t.Failed() {
		return
	}
	recorded := checkRecorded(t, s)
	for _, o := range outcomes {
		if want := recorded[o.add.Key]; !sameResult(o.res, want) {
			t.Errorf("key %s: got %+v, want its recorded Result %+v", o.add.Key, o.res, want)
		}
	}
}

// checkRecorded sends every shared key again through s and fails t unless
// each is Existing with its own number and the recorded totals form one
// serial order that Total ends: each key was added once and nothing else.
// It returns the recorded Results by key.
func checkRecorded(t *testing.T, s subject) map[string]idemsum.Result {
	t.Helper()
	keys := workload(0, false)
	res := mustAdd(t, s, keys)
	recorded := map[string]idemsum.Result{}
	var all []outcome
	for i, a := range keys {
		if !res[i].Existing || res[i].Number != a.Number {
			t.Errorf("key %s sent again: got %+v, want it Existing with number %d", a.Key, res[i], a.Number)
		}
		recorded[a.Key] = res[i]
		all = append(all, outcome{a, res[i]})
	}
	checkLinear(t, all, mustTotal(t, s.ledger))
	return recorded
}
