package e2e_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idemsum/idemsum"
	"github.com/idemsum/idemsum/e2e/harness"
	"github.com/idemsum/idemsum/internal/mariadbtopo"
	"github.com/idemsum/idemsum/mysql"
)

// TestScalingFigures measures what docs/scaling.md reports: the ledger's
// commits and additions per second by batch size on a standalone server
// and on semi-synchronous pairs, and the CPU each process spends per
// addition over HTTP. It runs only with IDEMSUM_SCALING=1, for a few
// minutes, and wants the machine to itself:
//
//	IDEMSUM_SCALING=1 go test -count=1 -run TestScalingFigures -v ./e2e/
func TestScalingFigures(t *testing.T) {
	if os.Getenv("IDEMSUM_SCALING") == "" {
		t.Skip("set IDEMSUM_SCALING=1 to measure the figures of docs/scaling.md")
	}
	t.Run("ledger", testLedgerCeiling)
	t.Run("http", testCPUPerAddition)
	t.Run("semisync-http", testSemiSyncThroughSumd)
}

// ledgerSetups are the MySQL set-ups the ledger is measured on: a
// standalone server, and primaries with a semi-synchronous replica at
// several one-way latencies (same host, another zone, another region).
var ledgerSetups = []struct {
	name     string
	replica  bool
	latency  time.Duration
	semiSync bool
}{
	{"standalone", false, 0, false},
	{"semi-sync, same host", true, 0, true},
	{"semi-sync, 1ms away", true, time.Millisecond, true},
	{"semi-sync, 20ms away", true, 20 * time.Millisecond, true},
}

// testLedgerCeiling measures mysql.Ledger.Add with 8 goroutines at once,
// each sending batches of one size (as BenchmarkLedgerAdd does), for a
// few seconds per size: every transaction updates the one total row, so
// commits are serial and the ceiling is batch size ÷ commit time.
func testLedgerCeiling(t *testing.T) {
	const workers, d = 8, 3 * time.Second
	for _, s := range ledgerSetups {
		t.Run(s.name, func(t *testing.T) {
			l := ledgerOn(t, s.replica, s.semiSync, s.latency)
			for _, size := range []int{1, 8, 32, 64, 256, 512} {
				commits, p50 := addFor(t, l, size, workers, d)
				t.Logf("| %s | %d | %.0f | %.0f | %.1f ms |", s.name, size, float64(commits)/d.Seconds(),
					float64(commits*int64(size))/d.Seconds(), float64(p50.Microseconds())/1000)
			}
		})
	}
}

// ledgerOn returns a Ledger on sumd's database of a fresh server, with a
// replica at latency if replica.
func ledgerOn(t *testing.T, replica, semiSync bool, latency time.Duration) *mysql.Ledger {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var primary *mariadbtopo.Server
	if replica {
		primary, _ = mariadbtopo.Pair(t, mariadbtopo.PairOptions{SemiSync: semiSync, Link: func(addr string) string {
			p := harness.StartProxy(t, addr)
			p.SetDistance(latency) // far, not slow: chunks travel together
			return p.Addr()
		}})
	} else {
		primary = mariadbtopo.Start(t, "primary", mariadbtopo.Options{})
	}
	if err := primary.CreateApp(ctx, harness.AppDatabase, harness.AppUser, harness.AppPassword); err != nil {
		t.Fatal(err)
	}
	db, err := mysql.Open(ctx, primary.DSN(harness.AppUser, harness.AppPassword, harness.AppDatabase), 16)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := mysql.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	return &mysql.Ledger{DB: db}
}

// addFor runs workers goroutines adding batches of size for d and returns
// the number of transactions and their median duration.
func addFor(t *testing.T, l *mysql.Ledger, size, workers int, d time.Duration) (int64, time.Duration) {
	t.Helper()
	var n atomic.Int64
	var mu sync.Mutex
	var took []time.Duration
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	tag := fmt.Sprintf("s%d-", size)
	for range workers {
		wg.Go(func() {
			adds := make([]idemsum.Addition, size)
			for time.Now().Before(end) {
				for i := range adds {
					adds[i] = idemsum.Addition{Key: tag + fmt.Sprint(n.Add(1)), Number: 1}
				}
				start := time.Now()
				if _, err := l.Add(context.Background(), adds); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				took = append(took, time.Since(start))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return int64(len(took)), median(took)
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
