package e2e_test

import (
	"context"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/idemsum/idemsum/e2e/harness"
	"github.com/idemsum/idemsum/internal/mariadbtopo"
)

// failoverKeys is the number of keys of each failover scenario; the
// primary dies at failoverAt of them.
const (
	failoverKeys    = 1000
	failoverAt      = 0.35
	failoverWorkers = 32 // keys in flight at once, two copies each
)

// linkLatency is the one-way latency between the primary and the replica
// of TestFailoverSemiSync: a replica in another region, the longest
// window of transactions committed on the primary and not yet on the
// replica that the asynchronous runs show.
const linkLatency = 20 * time.Millisecond

// TestFailoverSemiSync kills the primary's host under keyed load with
// duplicates, at a moment when a commit waits for the replica's
// acknowledgement, promotes its semi-synchronous replica (AFTER_SYNC, a
// timeout it never reaches), moves the address the instances use to it,
// and keeps the load going until every key is resolved. On the promoted
// server every addition that got a 200 is there exactly once: CheckAll
// against its database (totals, ledger rows, byte-identical replays,
// linearizable totals, no key stuck).
func TestFailoverSemiSync(t *testing.T) {
	t.Parallel()
	tp := harness.StartTopology(t, true, linkLatency)
	f := runFailover(t, tp, func(ctx context.Context) {
		// The hardest moment: a commit is in the primary's binary log,
		// waiting for the replica's acknowledgement, its client not told.
		var ss mariadbtopo.SemiSync
		var err error
		waiting := harness.WaitFor(ctx, 10*time.Second, func() bool {
			ss, err = tp.Primary.SemiSync(ctx)
			return err != nil || ss.Waiting > 0
		})
		switch {
		case err != nil:
			t.Fatalf("semi-sync status of the primary: %v", err)
		case !waiting:
			t.Fatalf("no commit waited for the replica's acknowledgement within 10s (%+v): the kill would not land at the moment this test is for", ss)
		}
		t.Logf("semi-sync on the primary just before it died: %+v", ss)
		if !ss.On || ss.NoTx != 0 || ss.NoTimes != 0 || ss.YesTx == 0 {
			t.Errorf("semi-sync status %+v: want on, never fallen back to asynchronous (no_tx 0, no_times 0), some commits acknowledged", ss)
		}
	})
	if f.loss.lost() > 0 {
		t.Errorf("%d acknowledged additions lost across the failover with semi-synchronous replication, want 0: %s", f.loss.lost(), f.loss)
	}
	harness.CheckHealed(t, tp.C, f.res)
	harness.CheckAll(t, tp.C, f.res, f.initial)
}

// TestFailoverAsync is TestFailoverSemiSync with asynchronous replication,
// over links of two latencies: a replica in another zone, and in another
// region as in TestFailoverSemiSync. It reports, without failing, how many
// acknowledged additions the promoted replica lacks — why semi-synchronous
// replication is required — and checks only that sumd recovers: every key
// resolved, no 5xx once the address has moved.
func TestFailoverAsync(t *testing.T) {
	t.Parallel()
	for _, latency := range []time.Duration{time.Millisecond, linkLatency} {
		t.Run("latency="+latency.String(), func(t *testing.T) {
			tp := harness.StartTopology(t, false, latency)
			f := runFailover(t, tp, func(context.Context) {})
			t.Logf("asynchronous replication, %v each way: %s", latency, f.loss)
			checkResolved(t, f.res)
			harness.CheckHealed(t, tp.C, f.res)
		})
	}
}

// failoverRun is what runFailover did and saw.
type failoverRun struct {
	res     *harness.Results
	initial *big.Int
	killed  time.Time // the primary's SIGKILL
	moved   time.Time // the address points at the promoted replica
	loss    lossReport
	// unreplicated counts the transactions in the dead primary's binary
	// log that the replica never received.
	unreplicated int64
}

// gtidSeq returns the sequence number of a one-domain GTID position such
// as 0-1-42, or 0.
func gtidSeq(pos string) int64 {
	n, _ := strconv.ParseInt(pos[strings.LastIndexByte(pos, '-')+1:], 10, 64)
	return n
}

// runFailover drives keyed load (two copies of each key at once) through
// tp, kills the primary at failoverAt, promotes the replica, moves the
// address, waits for every key to resolve, and reports the outage and
// what of the acknowledged additions the promoted server lacks. before
// runs just before the kill.
func runFailover(t *testing.T, tp *harness.Topology, before func(context.Context)) *failoverRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	c := tp.C
	f := &failoverRun{res: harness.NewResults(), initial: harness.GetTotal(t, c.Instances[0])}
	d := harness.NewDriver(t, c, f.res)
	d.Workers = failoverWorkers
	start := time.Now()
	done := d.Go(harness.NewKeys("failover", failoverKeys))
	if !harness.WaitFor(ctx, time.Minute, func() bool { return d.Progress() >= failoverAt }) {
		t.Fatalf("no progress to %v", failoverAt)
	}
	before(ctx)
	f.killed = time.Now()
	tp.Crash()
	p, err := mariadbtopo.Promote(ctx, tp.Replica)
	if err != nil {
		t.Fatal(err)
	}
	tp.MoveTo(tp.Replica)
	f.moved = time.Now()
	c.DB = harness.RootPool(t, tp.Replica)
	t.Logf("primary killed at %.0f%%; replica promoted in %v (received %s, applied %s); address moved %v after the kill",
		100*d.Progress(), p.Took.Round(time.Millisecond), p.Received, p.Applied, f.moved.Sub(f.killed).Round(time.Millisecond))
	if last, err := tp.Primary.LastGTID(ctx); err != nil {
		t.Logf("the dead primary's binary log: %v", err)
	} else {
		f.unreplicated = gtidSeq(last) - gtidSeq(p.Received)
		t.Logf("the dead primary's binary log ends at %s: %d transactions committed there never reached the replica", last, f.unreplicated)
	}
	harness.WaitDone(t, done, 90*time.Second)
	t.Logf("%d keys × %d copies in %v: %s", d.Total, d.Dup, time.Since(start).Round(time.Millisecond), &d.Stats)
	logOutage(t, f.res, f.killed)
	f.loss = acknowledgedLoss(t, c, f.res, f.moved)
	return f
}

// logOutage reports the window in which attempts failed (503 or a
// transport error) after the kill, and how long the keys in flight at the
// kill took to resolve.
func logOutage(t testing.TB, res *harness.Results, killed time.Time) {
	t.Helper()
	var first, last time.Time
	var n503, transport, unseen int
	var slowest time.Duration
	res.Each(func(ks *harness.KeyState) {
		if committedUnseen(ks, killed) {
			unseen++
		}
		for _, s := range ks.Sends {
			for _, a := range s.Attempts {
				if a.End.Before(killed) || (a.Status != 0 && a.Status != http.StatusServiceUnavailable) {
					continue
				}
				if a.Status == 0 {
					transport++
				} else {
					n503++
				}
				if first.IsZero() || a.End.Before(first) {
					first = a.End
				}
				last = maxTime(last, a.End)
			}
			if s.OK && s.Start.Before(killed) && s.End.After(killed) {
				slowest = max(slowest, s.End.Sub(killed))
			}
		}
	})
	if first.IsZero() {
		t.Logf("no attempt failed after the kill")
		return
	}
	t.Logf("after the kill: %d answers 503 and %d transport errors, from +%v to +%v; the keys in flight at the kill resolved within %v of it; %d keys were added by a commit whose answer the crash cut off (every 200 a replay)",
		n503, transport, first.Sub(killed).Round(time.Millisecond), last.Sub(killed).Round(time.Millisecond), slowest.Round(time.Millisecond), unseen)
}

// committedUnseen reports whether ks had an attempt fail after killed and
// every 200 it got was a replay: its addition was committed by a
// transaction whose answer never reached a client.
func committedUnseen(ks *harness.KeyState, killed time.Time) bool {
	failed := false
	for _, s := range ks.Sends {
		if s.OK && !s.Replayed {
			return false
		}
		for _, a := range s.Attempts {
			failed = failed || (!a.End.Before(killed) && (a.Status == 0 || a.Status >= 500))
		}
	}
	return failed
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// checkResolved fails t unless every Send of every key got a 200.
func checkResolved(t testing.TB, res *harness.Results) {
	t.Helper()
	res.Each(func(ks *harness.KeyState) {
		for _, s := range ks.Sends {
			if !s.OK {
				t.Errorf("key %s stuck: %s", ks.Name, s.Fail)
			}
		}
	})
}

// lossReport compares the additions answered 200 before the address moved
// to the promoted server with its ledger.
type lossReport struct {
	acked    int      // keys answered 200 before the address moved
	missing  []string // acknowledged, absent from the promoted ledger
	changed  []string // acknowledged, in the promoted ledger with another total: added again after the failover
	phantoms int      // missing keys still replayed from Redis after the move: an answer MySQL no longer backs
	amount   *big.Int // the sum of the numbers of the missing keys: what the total lacks
}

func (l lossReport) lost() int { return len(l.missing) + len(l.changed) }

func (l lossReport) String() string {
	return fmt.Sprintf("%d of %d additions acknowledged before the failover lost: %d absent from the promoted server (%d of them then replayed from Redis, a total MySQL no longer has; the total short by %v), %d added a second time after it with another total",
		l.lost(), l.acked, len(l.missing), l.phantoms, l.amount, len(l.changed))
}

// acknowledgedLoss returns which of the keys answered 200 before moved
// (the first such answer of each) the promoted server, c.DB, lacks.
func acknowledgedLoss(t testing.TB, c *harness.Cluster, res *harness.Results, moved time.Time) lossReport {
	t.Helper()
	ledger := harness.LedgerTotals(t, c)
	l := lossReport{amount: new(big.Int)}
	res.Each(func(ks *harness.KeyState) {
		var body []byte
		replayedAfter := false
		for _, s := range ks.Sends {
			if s.OK && s.End.Before(moved) && body == nil {
				body = s.Body
			}
			replayedAfter = replayedAfter || (s.OK && s.Replayed && !s.End.Before(moved))
		}
		if body == nil {
			return
		}
		l.acked++
		answered, err := harness.ParseTotal(body)
		if err != nil {
			t.Errorf("key %s: %v", ks.Name, err)
			return
		}
		switch got, ok := ledger[ks.Name]; {
		case !ok:
			l.missing = append(l.missing, ks.Name)
			l.amount.Add(l.amount, new(big.Int).SetUint64(ks.Number))
			if replayedAfter {
				l.phantoms++
			}
		case got != answered.String():
			l.changed = append(l.changed, ks.Name)
		}
	})
	return l
}
