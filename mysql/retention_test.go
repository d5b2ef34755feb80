package mysql_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/idemsum/idemsum"
	"github.com/idemsum/idemsum/mysql"
)

// clock is a settable clock for the ledger.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestPurgeRemovesOnlyExpiredKeysAndKeepsTheTotal(t *testing.T) {
	t.Parallel()
	l, _ := newLedger(t)
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	l.Now = c.Now
	ctx := context.Background()
	var old []idemsum.Addition
	for i := 0; i < 25; i++ {
		old = append(old, idemsum.Addition{Key: fmt.Sprintf("old-%d", i), Number: 2})
	}
	mustAdd(t, l, old...)
	c.Advance(23 * time.Hour)
	mustAdd(t, l, idemsum.Addition{Key: "young", Number: 1})
	c.Advance(2 * time.Hour) // old keys are now 25 h old, young 2 h

	var wg sync.WaitGroup // three instances purge at once
	deleted := make([]int64, 3)
	for i := range deleted {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			n, err := l.Purge(ctx, 24*time.Hour, 4)
			if err != nil {
				t.Errorf("purge: %v", err)
			}
			deleted[i] = n
		}(i)
	}
	wg.Wait()
	if got := deleted[0] + deleted[1] + deleted[2]; got != 25 {
		t.Errorf("deleted got %d, want 25", got)
	}
	if got, _ := l.Total(ctx); got != "51" {
		t.Errorf("total after purge got %s, want 51", got)
	}
	res := mustAdd(t, l, idemsum.Addition{Key: "old-0", Number: 7}, idemsum.Addition{Key: "young", Number: 1})
	if res[0].Existing || res[0].Total != "58" {
		t.Errorf("expired key reused: got %+v, want a new addition with total 58", res[0])
	}
	if !res[1].Existing || res[1].Total != "51" {
		t.Errorf("unexpired key: got %+v, want the stored addition with total 51", res[1])
	}
}

func mustAdd(tb testing.TB, l interface {
	Add(context.Context, []idemsum.Addition) ([]idemsum.Result, error)
}, adds ...idemsum.Addition) []idemsum.Result {
	tb.Helper()
	res, err := l.Add(context.Background(), adds)
	if err != nil {
		tb.Fatalf("add: %v", err)
	}
	return res
}

// TestRetention: a row outlives its key's TTL by twice the clock skew, so
// that no instance can still hold a cached record of a purged row.
func TestRetention(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ ttl, skew, want time.Duration }{
		{24 * time.Hour, time.Minute, 24*time.Hour + 2*time.Minute},
		{time.Hour, 0, time.Hour},
		{time.Second, 500 * time.Millisecond, 2 * time.Second},
	} {
		if got := mysql.Retention(c.ttl, c.skew); got != c.want {
			t.Errorf("Retention(%v, %v) = %v, want %v", c.ttl, c.skew, got, c.want)
		}
	}
}
