package e2e_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/idemsum/idemsum/e2e/harness"
	"github.com/idemsum/idemsum/internal/testenv"
)

// TestMySQLCutDuringCommit cuts the MySQL connections of three instances
// again and again while they commit, so that transactions end with an
// outcome sumd cannot know. First each cut lands inside the bytes going
// to MySQL (CutAfter a random number of bytes: mid-transaction, mid-
// handshake, or just after a COMMIT was sent); then MySQL's replies are
// slowed down and every connection is cut while transactions are on
// their way there or their replies on their way back. Those cuts land
// where they happen to; then, the load over, cutAfterCommit makes the
// hardest one on purpose: a COMMIT that reached MySQL whole, its reply
// never delivered. The keys whose first answer was a 503 or a transport
// error must still be added exactly once when retried, some of them by a
// transaction whose answer was lost.
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
		harness.Await(t, 30*time.Second, "the cut after a random number of bytes, or the end of the load",
			func() bool { return p.Stats().Cut > before || d.Progress() >= 1 })
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
	cutAfterCommit(t, s.C, s.Res)
	checkUnknownOutcomes(t, s.C, s.Res)
	harness.CheckHealed(t, s.C, s.Res)
	s.Check()
}

// commitCutTries bounds cutAfterCommit's attempts.
const commitCutTries = 10

// cutAfterCommit makes, once the load is over, a keyed addition whose
// transaction reaches MySQL whole, COMMIT included, while its reply never
// comes back, and records it in res: the instance cannot know the outcome
// (it answers 503, or the client's attempt fails), the key must be in the
// ledger, and a retry on another instance must replay it.
//
// sumd sends each addition as one multi-statement round trip that ends in
// COMMIT (mysql.Ledger), so on a quiet warm connection the bytes one
// addition sends are those the one before sent, when the keys and numbers
// have the same lengths. CutAfter with that count cuts every connection
// the moment the last byte of the COMMIT has passed, and forwards nothing
// back meanwhile. A try is spoilt when other bytes pass meanwhile (another
// instance's purge) or when MySQL sees the reset before it has read the
// COMMIT (the addition then did not happen, and its retry adds it); it
// fails t when no try in commitCutTries lands.
func cutAfterCommit(t *testing.T, c *harness.Cluster, res *harness.Results) {
	t.Helper()
	p, in, other := c.MySQLProxy, c.Instances[0], c.Instances[1]
	u := testenv.Unique()
	next := 0
	key := func() harness.Key { // names and numbers of one length
		next++
		return harness.Key{Name: fmt.Sprintf("e2e-commit-%s-%03d", u, next), Number: 100_000 + uint64(next)}
	}
	add := func(k harness.Key) int64 { // the bytes the addition sent to MySQL
		before := p.Stats().BytesUp
		resp, err := harness.SendOne(t.Context(), harness.Client, in, k)
		if err != nil {
			t.Fatalf("key %s on %s: %v", k.Name, in.Name, err)
		}
		harness.Want200(t, res, k, 0, "a key measuring an addition's bytes", resp, false)
		return p.Stats().BytesUp - before
	}
	for try := 1; try <= commitCutTries; try++ {
		n, m := add(key()), add(key())
		for i := 0; n != m && i < 10; i++ {
			n, m = m, add(key())
		}
		if n != m {
			t.Fatalf("the bytes an addition sends to MySQL differ from one to the next (%d, %d): cannot place a cut", n, m)
		}
		k := key()
		p.CutAfter(n)
		sent := time.Now()
		first, err := harness.SendOne(t.Context(), harness.Client, in, k)
		a := &harness.Attempt{Inst: 0, Start: sent, End: time.Now()}
		if err != nil {
			a.Err = err.Error()
		} else {
			a.Status = first.Status
		}
		p.Heal() // should the cut not have fired
		// Whether the cut addition committed is known only once MySQL has
		// handled all it received, which on a busy machine can be after
		// the instance saw the cut: the retry tells. It replays the key
		// only if the cut attempt committed it, since no other attempt
		// sent it; either way the key is then in the ledger once.
		retried := time.Now()
		resp, err := harness.SendOne(t.Context(), harness.Client, other, k)
		if err != nil || resp.Status != http.StatusOK {
			t.Fatalf("key %s, retried on %s after the cut: got %v %+v, want a 200", k.Name, other.Name, err, resp)
		}
		committed := resp.Replayed
		if !inLedger(t, c, []harness.Key{k})[k.Name] {
			t.Fatalf("key %s: answered 200 on %s (replayed %v), but not in the ledger", k.Name, other.Name, committed)
		}
		s := &harness.Send{Start: sent, End: time.Now(), OK: true, Body: resp.Body, Replayed: resp.Replayed, Inst: 1,
			Attempts: []*harness.Attempt{a, {Inst: 1, Start: retried, End: time.Now(), Status: resp.Status}}}
		res.Add(k, s)
		if committed && a.Status != http.StatusOK {
			t.Logf("try %d: the cut after the %d bytes of an addition left its COMMIT done and unanswered (%s answered %d %s)", try, n, in.Name, a.Status, a.Err)
			return
		}
		t.Logf("try %d: the cut after %d bytes missed (committed %v, first answer %d %s)", try, n, committed, a.Status, a.Err)
	}
	t.Errorf("no addition in %d tries was cut between its COMMIT and the reply", commitCutTries)
}

// checkUnknownOutcomes fails t unless some key's first answer was a 503
// or a transport error, each such key is in the MySQL ledger with its
// number exactly once (CheckAll checks the totals), and at least one of
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
