package e2e_test

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
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
	s := startScenario(t, Options{Instances: 3, MySQLProxy: true})
	d := s.d
	done := s.send(newKeys("commitcut", loadKeys))
	p := s.c.MySQLProxy

	s.progress(0.1)
	inside := 0
	for ; inside < 40 && d.Progress() < 0.4; inside++ {
		before := p.Stats().Cut
		p.CutAfter(1 + rand.Int64N(4<<10))
		waitFor(t.Context(), 2*time.Second, func() bool { return p.Stats().Cut > before || d.Progress() >= 1 })
		time.Sleep(30 * time.Millisecond) // the pace of the cuts
	}
	p.Heal()
	t.Logf("%d cuts after a random number of bytes until %.0f%%", inside, 100*d.Progress())

	// Each cut leaves the instances time to reconnect (a few round trips)
	// and send new transactions before the next one.
	s.progress(0.5)
	p.SetLatency(50 * time.Millisecond)
	replies := 0
	for ; replies < 12 && d.Progress() < 0.9; replies++ {
		time.Sleep(600 * time.Millisecond) // the pace of the cuts
		p.CutAll()
	}
	p.Heal()
	t.Logf("%d cuts with transactions and replies on their way until %.0f%%", replies, 100*d.Progress())

	waitDone(t, done, 90*time.Second)
	t.Logf("%s; proxy %+v", s.summary(), p.Stats())
	checkUnknownOutcomes(t, s.c, s.res)
	checkHealed(t, s.c, s.res)
	s.check()
}

// checkUnknownOutcomes fails t unless some key's first answer was a 503
// or a transport error, each such key is in the MySQL ledger with its
// number exactly once (checkAll checks the totals), and at least one of
// them was added by a transaction whose answer never reached a client:
// all its 200s are replays.
func checkUnknownOutcomes(t testing.TB, c *Cluster, res *Results) {
	t.Helper()
	var uncertain []Key
	unseen := 0
	res.Each(func(ks *KeyState) {
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
func ledgerNumbers(t testing.TB, c *Cluster) map[string]uint64 {
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

// checkNoStuck fails t unless every key resolved, and every Send still
// open at healed resolved within bound after it.
func checkNoStuck(t testing.TB, res *Results, healed time.Time, bound time.Duration) {
	t.Helper()
	var slowest time.Duration
	res.Each(func(ks *KeyState) {
		for _, s := range ks.Sends {
			switch {
			case !s.OK:
				t.Errorf("key %s stuck: %s", ks.Name, s.Fail)
			case s.Start.Before(healed) && s.End.Sub(healed) > bound:
				t.Errorf("key %s resolved %v after healing, want within %v", ks.Name, s.End.Sub(healed), bound)
			}
			slowest = max(slowest, s.End.Sub(s.Start))
		}
	})
	t.Logf("the slowest key took %v to resolve", slowest.Round(time.Millisecond))
}

// healedKeys is the number of fresh keys checkHealed sends.
const healedKeys = 60

// checkHealed sends a fresh round of keys once every fault is healed,
// each twice at once to two live instances, and fails t unless every
// attempt was answered 200 or 409 (the two copies meeting): no 5xx and
// no transport error after healing. The keys join res, for checkAll. It
// returns the number of 5xx answers.
func checkHealed(t testing.TB, c *Cluster, res *Results) int {
	t.Helper()
	live := *c
	live.Instances = c.Live()
	round := newResults()
	d := newDriver(t, &live, round)
	d.GiveUp = 20 * time.Second
	waitDone(t, d.Go(newKeys("healed", healedKeys)), 30*time.Second)
	bad, fivexx := 0, 0
	round.Each(func(ks *KeyState) {
		for _, s := range ks.Sends {
			for _, a := range s.Attempts {
				if a.Status >= 500 {
					fivexx++
				}
				if a.Status == 0 || a.Status >= 500 {
					if bad++; bad <= 5 {
						t.Errorf("after healing: key %s on %s: status %d %s, want 200 or 409", ks.Name, live.Instances[a.Inst].Name, a.Status, a.Err)
					}
				}
			}
		}
	})
	res.Merge(round)
	t.Logf("after healing: %d fresh keys × %d copies on %d instances: %s", healedKeys, d.Dup, len(live.Instances), &d.Stats)
	return fivexx
}

// metricSum returns the sum over c's live instances of every sample of
// the Prometheus metric name (all its label sets).
func metricSum(t testing.TB, c *Cluster, name string) float64 {
	t.Helper()
	sum := 0.0
	for _, in := range c.Live() {
		resp := call(t, in, "GET", "/metrics", nil, "", "")
		for _, line := range strings.Split(string(resp.Body), "\n") {
			rest, ok := strings.CutPrefix(line, name)
			if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '{') {
				continue
			}
			f := strings.Fields(rest[strings.LastIndexByte(rest, '}')+1:])
			if len(f) > 0 {
				v, err := strconv.ParseFloat(f[0], 64)
				if err != nil {
					t.Fatalf("%s on %s: %q: %v", name, in.Name, line, err)
				}
				sum += v
			}
		}
	}
	return sum
}
