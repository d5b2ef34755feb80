package e2e_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"idemsum/e2e/harness"
)

// TestMySQLCutDuringCommit cuts the MySQL connections of three instances
// again and again while they commit, so that transactions end with an
// outcome sumd cannot know. First each cut lands inside the bytes going
// to MySQL (CutAfter a random number of bytes: mid-transaction, mid-
// handshake, or just after a COMMIT was sent); then MySQL's replies are
// slowed down and every connection is cut while transactions are on
// their way there or their replies on their way back (a COMMIT that
// happened, unacknowledged). The keys whose first answer was a 503 or a
// transport error must still be added exactly once when retried, some of
// them by a transaction whose answer was lost.
func TestMySQLCutDuringCommit(t *testing.T) {
	t.Parallel()
	s := harness.StartScenario(t, harness.Options{Instances: 3, MySQLProxy: true})
	d := s.D
	done := s.Go(harness.NewKeys("commitcut", harness.LoadKeys))
	p := s.C.MySQLProxy

	s.Progress(0.1)
	inside := 0
	for ; inside < 40 && d.Progress() < 0.4; inside++ {
		before := p.Stats().Cut
		p.CutAfter(1 + rand.Int64N(4<<10))
		harness.WaitFor(t.Context(), 2*time.Second, func() bool { return p.Stats().Cut > before || d.Progress() >= 1 })
		time.Sleep(30 * time.Millisecond) // the pace of the cuts
	}
	p.Heal()
	t.Logf("%d cuts after a random number of bytes until %.0f%%", inside, 100*d.Progress())

	// Each cut leaves the instances time to reconnect (a few round trips)
	// and send new transactions before the next one.
	s.Progress(0.5)
	p.SetLatency(50 * time.Millisecond)
	replies := 0
	for ; replies < 12 && d.Progress() < 0.9; replies++ {
		time.Sleep(600 * time.Millisecond) // the pace of the cuts
		p.CutAll()
	}
	p.Heal()
	t.Logf("%d cuts with transactions and replies on their way until %.0f%%", replies, 100*d.Progress())

	harness.WaitDone(t, done, 90*time.Second)
	t.Logf("%s; proxy %+v", s.Summary(), p.Stats())
	checkUnknownOutcomes(t, s.C, s.Res)
	harness.CheckHealed(t, s.C, s.Res)
	s.Check()
}

// checkUnknownOutcomes fails t unless some key's first answer was a 503
// or a transport error, each such key is in the MySQL ledger with its
// number exactly once (checkAll checks the totals), and at least one of
// them was added by a transaction whose answer never reached a client:
// all its 200s are replays.
func checkUnknownOutcomes(t testing.TB, c *harness.Cluster, res *harness.Results) {
	t.Helper()
	var uncertain []harness.Key
	unseen := 0
	res.Each(func(ks *harness.KeyState) {
		first, fresh := false, 0
		for _, s := range ks.Sends {
			if len(s.Attempts) > 0 && (s.Attempts[0].Status == 0 || s.Attempts[0].Status >= 500) {
				first = true
			}
			if s.OK && !s.Replayed {
				fresh++
			}
		}
		if first {
			uncertain = append(uncertain, ks.Key)
			if fresh == 0 {
				unseen++
			}
		}
	})
	t.Logf("%d keys whose first answer was a 503 or a transport error; %d of them added by a transaction whose answer was lost", len(uncertain), unseen)
	if len(uncertain) == 0 {
		t.Fatalf("no key got a 503 or a transport error first; the cuts tested nothing")
	}
	if unseen == 0 {
		t.Errorf("no key was added by a transaction whose answer was lost; no cut landed between a COMMIT and its reply")
	}
	numbers := ledgerNumbers(t, c)
	for _, k := range uncertain {
		if got, ok := numbers[k.Name]; !ok || got != k.Number {
			t.Errorf("key %s, first answered 503 or not at all: ledger number %d (recorded %v), want %d once", k.Name, got, ok, k.Number)
		}
	}
}

// ledgerNumbers returns every key of the MySQL ledger with its number.
func ledgerNumbers(t testing.TB, c *harness.Cluster) map[string]uint64 {
	t.Helper()
	rows, err := c.DB.QueryContext(t.Context(), "SELECT idem_key, number FROM sum_ledger")
	if err != nil {
		t.Fatalf("read ledger: %v", err)
	}
	defer rows.Close()
	numbers := map[string]uint64{}
	for rows.Next() {
		var k []byte
		var n uint64
		if err := rows.Scan(&k, &n); err != nil {
			t.Fatalf("read ledger: %v", err)
		}
		numbers[string(k)] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read ledger: %v", err)
	}
	return numbers
}
