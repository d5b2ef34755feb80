package mysql_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/idemsum/idemsum"
	"github.com/idemsum/idemsum/mysql"
)

// counter returns the value of the counter name in reg.
func counter(tb testing.TB, reg *prometheus.Registry, name string) float64 {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	tb.Fatalf("no metric %s", name)
	return 0
}

// TestLedgerCountsFenceReplays: every keyed addition of a committed batch
// that the ledger found already recorded counts once in
// idemsum_fence_replays_total; new keys and keyless additions do not.
func TestLedgerCountsFenceReplays(t *testing.T) {
	t.Parallel()
	l, _ := newLedger(t)
	reg := prometheus.NewRegistry()
	l.Metrics = mysql.NewMetrics(reg)
	mustAdd(t, l, idemsum.Addition{Key: "a", Number: 1}, idemsum.Addition{Number: 1})
	if got := counter(t, reg, "idemsum_fence_replays_total"); got != 0 {
		t.Errorf("after new keys: got %v, want 0", got)
	}
	res := mustAdd(t, l, idemsum.Addition{Key: "a", Number: 1}, idemsum.Addition{Key: "b", Number: 1}, idemsum.Addition{Number: 1})
	if !res[0].Existing || res[1].Existing {
		t.Fatalf("results %+v: want only key a found recorded", res)
	}
	if got := counter(t, reg, "idemsum_fence_replays_total"); got != 1 {
		t.Errorf("after key a again: got %v, want 1", got)
	}
}

// TestPurgeEveryCountsPurgedKeys: the keys a periodic purge deletes are
// counted in idemsum_keys_purged_total.
func TestPurgeEveryCountsPurgedKeys(t *testing.T) {
	t.Parallel()
	l, _ := newLedger(t)
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	l.Now = c.Now
	reg := prometheus.NewRegistry()
	l.Metrics = mysql.NewMetrics(reg)
	mustAdd(t, l, idemsum.Addition{Key: "a", Number: 1}, idemsum.Addition{Key: "b", Number: 1}, idemsum.Addition{Key: "c", Number: 1})
	c.Advance(2 * time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.PurgeEvery(ctx, 10*time.Millisecond, time.Hour, 2, nil)
	}()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(30 * time.Second)
	for counter(t, reg, "idemsum_keys_purged_total") != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("idemsum_keys_purged_total = %v after 30s, want 3", counter(t, reg, "idemsum_keys_purged_total"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
