package mysql_test

import (
	"context"
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/idemsum/idemsum"
)

// TestLedgerUnderHeavyKeyContention: many concurrent batches that share
// most of their keys — what instances see when Redis is wiped and every
// duplicate reaches MySQL at once — all succeed, and each key is added
// exactly once. Each round that finds a key already recorded makes
// progress (that key leaves the batch), so only rounds without progress
// (deadlocks) may use up Ledger.Add's retries.
func TestLedgerUnderHeavyKeyContention(t *testing.T) {
	t.Parallel()
	l, db := newLedger(t)
	const workers, keys, rounds = 24, 64, 6
	var (
		mu      sync.Mutex
		results = map[string][]idemsum.Result{} // every Result of each key
	)
	for round := range rounds {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for w := range workers {
			wg.Go(func() {
				<-start
				rng := rand.New(rand.NewPCG(uint64(w), uint64(round)+100))
				perm := rng.Perm(keys)
				for len(perm) > 0 {
					n := min(len(perm), 8+rng.IntN(24))
					adds := make([]idemsum.Addition, n)
					for i, k := range perm[:n] {
						adds[i] = idemsum.Addition{Key: contentionKey(round, k), Number: uint64(k + 1)}
					}
					res, err := l.Add(context.Background(), adds)
					if err != nil {
						t.Errorf("round %d worker %d: got %v, want no error", round, w, err)
						return
					}
					mu.Lock()
					for i, a := range adds {
						results[a.Key] = append(results[a.Key], res[i])
					}
					mu.Unlock()
					perm = perm[n:]
				}
			})
		}
		close(start)
		wg.Wait()
	}
	if t.Failed() {
		return
	}
	assertOncePerKey(t, results, rounds*keys)
	stored := queryStrings(t, db, "SELECT CONCAT(idem_key, ' ', number, ' ', total) FROM sum_ledger ORDER BY idem_key")
	var want []string
	for round := range rounds {
		for k := range keys {
			key := contentionKey(round, k)
			for _, r := range results[key] {
				if !r.Existing {
					want = append(want, fmt.Sprintf("%s %d %s", key, r.Number, r.Total))
				}
			}
		}
	}
	slices.Sort(want)
	if !slices.Equal(stored, want) {
		t.Errorf("sum_ledger rows (key number total):\ngot  %q\nwant %q (each key once, as its new Result says)", stored, want)
	}
	sum := new(big.Int)
	for k := range keys {
		sum.Add(sum, big.NewInt(int64(rounds*(k+1))))
	}
	if got := totalOf(t, l); got != sum.String() {
		t.Errorf("total: got %s, want %v (the sum of the distinct keys' numbers)", got, sum)
	}
	assertConsistent(t, db, new(big.Int))
}

func contentionKey(round, k int) string { return fmt.Sprintf("c%d-k%02d", round, k) }

// assertOncePerKey checks the Results of keyed additions, by key, that
// raced over distinct keys: each of the n keys was added by exactly one
// Result that is not Existing; every other Result of the key is Existing
// with that Result's Number and Total; and sorted by total, the new
// additions form one serial order from 0 — each total minus its number is
// the previous total.
func assertOncePerKey(tb testing.TB, results map[string][]idemsum.Result, n int) {
	tb.Helper()
	if len(results) != n {
		tb.Errorf("keys with Results: got %d, want %d", len(results), n)
	}
	var added []idemsum.Result
	for key, rs := range results {
		var adds []idemsum.Result
		for _, r := range rs {
			if !r.Existing {
				adds = append(adds, r)
			}
		}
		if len(adds) != 1 {
			tb.Errorf("key %s: added by %d Results %+v, want exactly one", key, len(adds), adds)
			continue
		}
		first := &adds[0]
		added = append(added, *first)
		for _, r := range rs {
			if r.Existing && (r.Total != first.Total || r.Number != first.Number) {
				tb.Errorf("key %s: Existing Result %+v, want the number and total of its addition %+v", key, r, *first)
			}
		}
	}
	slices.SortFunc(added, func(a, b idemsum.Result) int { return bigOf(tb, a.Total).Cmp(bigOf(tb, b.Total)) })
	prev := new(big.Int)
	for _, r := range added {
		if before := new(big.Int).Sub(bigOf(tb, r.Total), num(r.Number)); before.Cmp(prev) != 0 {
			tb.Errorf("addition %+v: total minus number is %v, want the previous total %v", r, before, prev)
		}
		prev = bigOf(tb, r.Total)
	}
}
