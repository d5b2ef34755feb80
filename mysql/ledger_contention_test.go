package mysql_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"idemsum"
)

// TestLedgerUnderHeavyKeyContention: many concurrent batches that share
// most of their keys — what instances see when Redis is wiped and every
// duplicate reaches MySQL at once — all succeed. Each round that finds a
// key already recorded makes progress (that key leaves the batch), so only
// rounds without progress (deadlocks) may use up Ledger.Add's retries.
func TestLedgerUnderHeavyKeyContention(t *testing.T) {
	t.Parallel()
	l, _ := newLedger(t)
	const workers, keys, rounds = 24, 64, 6
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
						adds[i] = idemsum.Addition{Key: fmt.Sprintf("c%d-k%02d", round, k), Number: uint64(k + 1)}
					}
					if _, err := l.Add(context.Background(), adds); err != nil {
						t.Errorf("round %d worker %d: got %v, want no error", round, w, err)
						return
					}
					perm = perm[n:]
				}
			})
		}
		close(start)
		wg.Wait()
	}
}
