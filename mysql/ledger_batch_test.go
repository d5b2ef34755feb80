package mysql_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idemsum/idemsum"
	"github.com/idemsum/idemsum/mysql"
)

const maxN = idemsum.MaxNumber

// addAll adds adds in one Ledger.Add and fails tb on an error.
func addAll(tb testing.TB, l *mysql.Ledger, adds ...idemsum.Addition) []idemsum.Result {
	tb.Helper()
	res, err := l.Add(context.Background(), adds)
	if err != nil {
		tb.Fatalf("add %v: %v", adds, err)
	}
	if len(res) != len(adds) {
		tb.Fatalf("results: got %d, want %d", len(res), len(adds))
	}
	return noCreated(tb, res)
}

// noCreated returns rs with Created, which every Result must have, zeroed
// for comparison (TestLedgerCreated checks its value).
func noCreated(tb testing.TB, rs []idemsum.Result) []idemsum.Result {
	tb.Helper()
	out := slices.Clone(rs)
	for i := range out {
		if out[i].Created.IsZero() {
			tb.Errorf("result %d %+v: Created is zero", i, out[i])
		}
		out[i].Created = time.Time{}
	}
	return out
}

func totalOf(tb testing.TB, l *mysql.Ledger) string {
	tb.Helper()
	t, err := l.Total(context.Background())
	if err != nil {
		tb.Fatalf("total: %v", err)
	}
	return t
}

func bigOf(tb testing.TB, s string) *big.Int {
	tb.Helper()
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		tb.Fatalf("total %q: not a decimal integer", s)
	}
	return n
}

func num(n uint64) *big.Int { return new(big.Int).SetUint64(n) }

// assertChain checks the totals of res, the results of adds starting at
// total before: each new addition's total minus its number is the
// previous total, and each repeated key gets its first Result as Existing.
// It returns the total after the batch.
func assertChain(tb testing.TB, before *big.Int, adds []idemsum.Addition, res []idemsum.Result) *big.Int {
	tb.Helper()
	prev := new(big.Int).Set(before)
	first := map[string]idemsum.Result{}
	for i, a := range adds {
		r := res[i]
		r.Created = time.Time{}
		if f, ok := first[a.Key]; ok && a.Key != "" {
			if want := (idemsum.Result{Total: f.Total, Number: f.Number, Existing: true}); r != want {
				tb.Errorf("addition %d %+v: got %+v, want %+v", i, a, r, want)
			}
			continue
		}
		if a.Key != "" {
			first[a.Key] = r
		}
		if r.Existing {
			continue
		}
		want := new(big.Int).Add(prev, num(a.Number))
		if r.Number != a.Number || bigOf(tb, r.Total).Cmp(want) != 0 {
			tb.Errorf("addition %d %+v: got %+v, want total %v and number %d", i, a, r, want, a.Number)
		}
		prev = want
	}
	return prev
}

// assertConsistent checks, in one consistent read, that the total is the
// sum of the recorded numbers plus keyless, and that every recorded key's
// total is the total right after it: no half transaction is visible.
func assertConsistent(tb testing.TB, db *sql.DB, keyless *big.Int) {
	tb.Helper()
	tx, err := db.BeginTx(context.Background(), &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		tb.Fatalf("begin: %v", err)
	}
	defer tx.Rollback()
	var total string
	if err := tx.QueryRow("SELECT total FROM sum_total WHERE id = 1").Scan(&total); err != nil {
		tb.Fatalf("read total: %v", err)
	}
	rows, err := tx.Query("SELECT number, total FROM sum_ledger ORDER BY total")
	if err != nil {
		tb.Fatalf("read ledger: %v", err)
	}
	defer rows.Close()
	sum := new(big.Int).Set(keyless)
	prev := new(big.Int)
	for rows.Next() {
		var n uint64
		var t string
		if err := rows.Scan(&n, &t); err != nil {
			tb.Fatalf("scan ledger: %v", err)
		}
		sum.Add(sum, num(n))
		if keyless.Sign() == 0 {
			if got, want := bigOf(tb, t), new(big.Int).Add(prev, num(n)); got.Cmp(want) != 0 {
				tb.Errorf("ledger row of %d: got total %v, want %v", n, got, want)
			}
			prev = bigOf(tb, t)
		}
	}
	if err := rows.Err(); err != nil {
		tb.Fatalf("read ledger: %v", err)
	}
	if bigOf(tb, total).Cmp(sum) != 0 {
		tb.Errorf("total: got %s, want %v (recorded numbers plus %v keyless)", total, sum, keyless)
	}
}

// TestLedgerNearDecimalLimit starts from a total of 10^64 (DECIMAL(65,0)
// holds 65 digits): additions stay exact there too.
func TestLedgerNearDecimalLimit(t *testing.T) {
	t.Parallel()
	l, db := newLedger(t)
	start := new(big.Int).Exp(big.NewInt(10), big.NewInt(64), nil)
	if _, err := db.Exec("UPDATE sum_total SET total = " + start.String() + " WHERE id = 1"); err != nil {
		t.Fatalf("set total: %v", err)
	}
	adds := []idemsum.Addition{{Key: "a", Number: maxN}, {Number: 1}, {Key: "b", Number: maxN}}
	res := addAll(t, l, adds...)
	end := assertChain(t, start, adds, res)
	if got := totalOf(t, l); got != end.String() {
		t.Errorf("total: got %s, want %v", got, end)
	}
	if got := addAll(t, l, adds[0])[0]; got.Total != res[0].Total {
		t.Errorf("replay total: got %s, want %s", got.Total, res[0].Total)
	}
}

// TestLedgerBatchTotals sends random batches mixing keyless additions,
// new keys, keys repeated within the batch and keys from earlier batches
// (as idemsumtest's LinearTotals does), with totals far past 2^64: the
// stored key rows and the total agree with the Results.
func TestLedgerBatchTotals(t *testing.T) {
	t.Parallel()
	l, db := newLedger(t)
	rng := rand.New(rand.NewPCG(1, 2))
	total, keyless := new(big.Int), new(big.Int)
	for batch := range 20 {
		adds := make([]idemsum.Addition, 1+rng.IntN(40))
		for i := range adds {
			adds[i].Number = 1 + rng.Uint64N(maxN)
			if rng.IntN(4) == 0 {
				adds[i].Number = 1 + rng.Uint64N(100)
			}
			if rng.IntN(5) > 0 {
				adds[i].Key = fmt.Sprintf("key-%d", rng.IntN(60+batch*10))
			}
		}
		res := addAll(t, l, adds...)
		total = assertChain(t, total, adds, res)
		keyless.Add(keyless, sumNew(adds, res, true))
	}
	if got := totalOf(t, l); got != total.String() {
		t.Errorf("total: got %s, want %v", got, total)
	}
	assertConsistent(t, db, keyless)
}

// sumNew sums the numbers of additions that were not Existing (keyless
// ones only, when keylessOnly).
func sumNew(adds []idemsum.Addition, res []idemsum.Result, keylessOnly bool) *big.Int {
	s := new(big.Int)
	for i, a := range adds {
		if !res[i].Existing && (!keylessOnly || a.Key == "") {
			s.Add(s, num(a.Number))
		}
	}
	return s
}

const sharedKeys = 48

// concurrentSameKeys has 16 goroutines add the same keys (of round) in
// different orders and batch sizes, each with one keyless addition too,
// and returns the errors of their batches (a goroutine stops at its
// first) and the sum of the keyless numbers.
func concurrentSameKeys(l *mysql.Ledger, round int) ([]error, *big.Int) {
	const workers = 16
	var (
		mu      sync.Mutex
		errs    []error
		wg      sync.WaitGroup
		start   = make(chan struct{})
		keyless = new(big.Int)
	)
	for w := range workers {
		keyless.Add(keyless, num(uint64(1000+w)))
		wg.Go(func() {
			<-start
			rng := rand.New(rand.NewPCG(uint64(w), uint64(round)))
			adds := []idemsum.Addition{{Number: uint64(1000 + w)}}
			for _, k := range rng.Perm(sharedKeys) {
				adds = append(adds, idemsum.Addition{Key: fmt.Sprintf("r%d-k%02d", round, k), Number: uint64(k + 1)})
			}
			for len(adds) > 0 {
				n := min(len(adds), 1+rng.IntN(8))
				if _, err := l.Add(context.Background(), adds[:n]); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("worker %d: add %v: %w", w, adds[:n], err))
					mu.Unlock()
					return
				}
				adds = adds[n:]
			}
		})
	}
	close(start)
	wg.Wait()
	return errs, keyless
}

// TestLedgerConcurrentSameKeysWithoutDeadlockErrors runs 40 rounds of 16
// goroutines adding the same keys in different orders and batch sizes
// (what idemsumtest's Concurrent subtest checks the Results of) and wants
// no error at all: nothing is wrong with these batches, so none should
// fail. (Concurrent batches that share keys can deadlock in InnoDB;
// Ledger.Add inserts keys in sorted order and resends a batch rolled back
// by a deadlock.) In the end the stored rows agree with the total.
func TestLedgerConcurrentSameKeysWithoutDeadlockErrors(t *testing.T) {
	t.Parallel()
	l, db := newLedger(t)
	keyless := new(big.Int)
	for round := range 40 {
		errs, k := concurrentSameKeys(l, round)
		for _, err := range errs {
			t.Errorf("round %d: got %v, want no error", round, err)
		}
		keyless.Add(keyless, k)
	}
	if !t.Failed() {
		assertConsistent(t, db, keyless)
	}
}

// TestLedgerAwkwardKeys checks keys that SQL quoting and LIKE patterns
// could confuse: each is its own key, stored and found exactly.
func TestLedgerAwkwardKeys(t *testing.T) {
	t.Parallel()
	keys := []string{
		`'`, `"`, `\`, `\'`, `\\`, `%`, `_`, `a%`, `a_`, `ab`, `aXb`, `a\%`, `a\_`,
		`' OR '1'='1`, `'; DROP TABLE sum_total; --`, "`", `--`, `/*`, `;`, `\0`, `\n`, `?`, `??`, `:1`, `$1`,
		`"a\"b"`, `{}`, `%_%`, strings.Repeat(`\`, 255), strings.Repeat(`'`, 255), strings.Repeat("%", 255),
	}
	for _, together := range []bool{true, false} {
		t.Run(fmt.Sprintf("one batch=%v", together), func(t *testing.T) {
			t.Parallel()
			l, db := newLedger(t)
			var adds []idemsum.Addition
			for i, k := range keys {
				adds = append(adds, idemsum.Addition{Key: k, Number: uint64(i + 1)})
			}
			var res []idemsum.Result
			if together {
				res = addAll(t, l, adds...)
			} else {
				for _, a := range adds {
					res = append(res, addAll(t, l, a)...)
				}
			}
			for i, r := range res {
				if r.Existing || r.Number != adds[i].Number {
					t.Errorf("key %q: got %+v, want a new addition of %d", adds[i].Key, r, adds[i].Number)
				}
			}
			// In reverse order, each key finds its own record.
			slices.Reverse(adds)
			slices.Reverse(res)
			again := addAll(t, l, adds...)
			for i, r := range again {
				want := res[i]
				want.Existing = true
				if r != want {
					t.Errorf("key %q again: got %+v, want %+v", adds[i].Key, r, want)
				}
			}
			n := len(keys)
			if got, want := totalOf(t, l), fmt.Sprint(n*(n+1)/2); got != want {
				t.Errorf("total: got %s, want %s", got, want)
			}
			stored := queryStrings(t, db, "SELECT idem_key FROM sum_ledger ORDER BY number")
			if !slices.Equal(stored, keys) {
				t.Errorf("stored keys:\ngot  %q\nwant %q", stored, keys)
			}
			assertConsistent(t, db, new(big.Int))
		})
	}
}

// TestLedgerCancelledContext checks that a caller's context cancelled
// before Add runs the batch all the same (Ledger.Add detaches the batch
// from ctx's cancellation), and that a round trip cut short by the
// Ledger's own timeout leaves no half transaction: the total always
// matches the recorded keys, the pool stays usable, and retrying the same
// keys adds each exactly once.
func TestLedgerCancelledContext(t *testing.T) {
	t.Parallel()
	l, db := newLedger(t)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	adds := []idemsum.Addition{{Key: "c0", Number: 1}, {Key: "c1", Number: 2}}
	res, err := l.Add(cancelled, adds)
	if err != nil {
		t.Fatalf("add with a cancelled context: got %v, want the batch committed (the caller's cancel does not cut it)", err)
	}
	assertChain(t, new(big.Int), adds, res)
	assertConsistent(t, db, new(big.Int))

	failures := 0
	for i := range 200 {
		short := &mysql.Ledger{DB: db, Timeout: timeoutFor(i)}
		batch := []idemsum.Addition{
			{Key: fmt.Sprintf("t%03d-a", i), Number: uint64(i + 1)},
			{Key: fmt.Sprintf("t%03d-b", i), Number: maxN},
		}
		adds = append(adds, batch...)
		ctx, cancel := context.WithCancel(context.Background())
		if i%2 == 1 {
			cancel()
		}
		if _, err := short.Add(ctx, batch); err != nil {
			failures++
		}
		cancel()
		assertConsistent(t, db, new(big.Int))
	}
	t.Logf("%d of 200 short batches failed", failures)
	got := addAll(t, l, adds...)
	want := new(big.Int)
	for i, a := range adds {
		want.Add(want, num(a.Number))
		if got[i].Number != a.Number {
			t.Errorf("retry of %+v: got %+v, want number %d", a, got[i], a.Number)
		}
	}
	if total := totalOf(t, l); total != want.String() {
		t.Errorf("total after retrying: got %s, want %v", total, want)
	}
	assertConsistent(t, db, new(big.Int))
}

// TestLedgerBatchOutlivesItsCaller: a batch in flight when its caller
// cancels runs on to its end, and Add reports its outcome rather than an
// error (which would turn a known outcome into an unknown one). Another
// transaction holds sum_total's row, so the batch is surely in flight —
// waiting inside MySQL on that lock — when the caller cancels; only then
// is the lock released.
func TestLedgerBatchOutlivesItsCaller(t *testing.T) {
	t.Parallel()
	l, db := newLedger(t)
	addAll(t, l, idemsum.Addition{Key: "before", Number: 10})
	holder, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback()
	var total string
	if err := holder.QueryRow("SELECT total FROM sum_total WHERE id = 1 FOR UPDATE").Scan(&total); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	adds := []idemsum.Addition{{Key: "a", Number: 1}, {Number: 2}}
	done := make(chan addOutcome, 1)
	go func() {
		res, err := l.Add(ctx, adds)
		done <- addOutcome{res, err}
	}()
	waitForLockWait(t, db, done)
	cancel()
	waitForLockWait(t, db, done) // still waiting on the lock after the cancel
	if err := holder.Rollback(); err != nil {
		t.Fatalf("release the row: %v", err)
	}
	o := <-done
	if o.err != nil {
		t.Fatalf("Add whose caller cancelled while it was in flight: got %v, want the batch's results", o.err)
	}
	assertChain(t, big.NewInt(10), adds, noCreated(t, o.res))
	if got := totalOf(t, l); got != "13" {
		t.Errorf("total: got %s, want 13", got)
	}
	assertConsistent(t, db, big.NewInt(2))
}

// addOutcome is what a Ledger.Add returned.
type addOutcome struct {
	res []idemsum.Result
	err error
}

// waitForLockWait polls until a connection of db's database runs the
// batch's UPDATE of sum_total, which waits there while another transaction
// holds that row; it fails tb after 30 s, or if an Add reports on done
// first (a batch that should be waiting has ended). It reads the process
// list, which is live: INNODB_TRX is a cache that MariaDB refreshes only
// after 100 ms without a read, so polling it can see a stale state forever.
func waitForLockWait(tb testing.TB, db *sql.DB, done <-chan addOutcome) {
	tb.Helper()
	const q = `SELECT COUNT(*) FROM information_schema.PROCESSLIST
		WHERE DB = DATABASE() AND ID <> CONNECTION_ID() AND INFO LIKE 'UPDATE sum_total %'`
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		if err := db.QueryRow(q).Scan(&n); err != nil {
			tb.Fatalf("look for a lock wait: %v", err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("no batch waited on sum_total's row within 30 s")
		}
		select {
		case o := <-done:
			tb.Fatalf("the batch ended while the row lock was held: got %+v, %v; want it waiting", o.res, o.err)
		case <-tick.C:
		}
	}
}

// timeoutFor spreads round-trip timeouts from 1µs to about 4ms, so that
// batches are cut short at every stage.
func timeoutFor(i int) time.Duration {
	return time.Duration(1+(i*i*97)%4000) * time.Microsecond
}
