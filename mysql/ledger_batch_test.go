package mysql_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mysqldriver "github.com/go-sql-driver/mysql"

	"idemsum"
	"idemsum/mysql"
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

func TestLedgerBatch(t *testing.T) {
	t.Parallel()
	a := func(key string, n uint64) idemsum.Addition { return idemsum.Addition{Key: key, Number: n} }
	r := func(total string, n uint64, existing bool) idemsum.Result {
		return idemsum.Result{Total: total, Number: n, Existing: existing}
	}
	tests := []struct {
		name  string
		adds  []idemsum.Addition
		want  []idemsum.Result
		total string
	}{
		{"empty", nil, nil, "0"},
		{"one keyed", []idemsum.Addition{a("a", 5)}, []idemsum.Result{r("5", 5, false)}, "5"},
		{"one keyless", []idemsum.Addition{a("", 5)}, []idemsum.Result{r("5", 5, false)}, "5"},
		{"keyless twice", []idemsum.Addition{a("", 3), a("", 3), a("", 4)},
			[]idemsum.Result{r("3", 3, false), r("6", 3, false), r("10", 4, false)}, "10"},
		{"same key same number", []idemsum.Addition{a("a", 5), a("a", 5)},
			[]idemsum.Result{r("5", 5, false), r("5", 5, true)}, "5"},
		{"same key different number", []idemsum.Addition{a("a", 5), a("a", 9)},
			[]idemsum.Result{r("5", 5, false), r("5", 5, true)}, "5"},
		{"repeats among others", []idemsum.Addition{a("a", 5), a("", 3), a("a", 9), a("b", 2), a("a", 5), a("b", 1), a("", 1)},
			[]idemsum.Result{r("5", 5, false), r("8", 3, false), r("5", 5, true), r("10", 2, false), r("5", 5, true), r("10", 2, true), r("11", 1, false)}, "11"},
		{"keys differing in case", []idemsum.Addition{a("key", 1), a("Key", 2), a("KEY", 4), a("key", 8)},
			[]idemsum.Result{r("1", 1, false), r("3", 2, false), r("7", 4, false), r("1", 1, true)}, "7"},
		{"max numbers", []idemsum.Addition{a("a", maxN), a("", maxN), a("b", maxN), a("a", 1)},
			[]idemsum.Result{r("9223372036854775807", maxN, false), r("18446744073709551614", maxN, false), r("27670116110564327421", maxN, false), r("9223372036854775807", maxN, true)},
			"27670116110564327421"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l, db := newLedger(t)
			got, err := l.Add(context.Background(), tc.adds)
			if err != nil {
				t.Fatalf("add: got %v, want nil", err)
			}
			if got := noCreated(t, got); !slices.Equal(got, tc.want) {
				t.Errorf("results:\ngot  %+v\nwant %+v", got, tc.want)
			}
			if got := totalOf(t, l); got != tc.total {
				t.Errorf("total: got %s, want %s", got, tc.total)
			}
			assertConsistent(t, db, keylessSum(tc.adds))
			// Sent again, every keyed addition is Existing with its first result.
			again := addAll(t, l, tc.adds...)
			for i, ad := range tc.adds {
				if ad.Key == "" {
					continue
				}
				want := tc.want[i]
				want.Existing = true
				if again[i] != want {
					t.Errorf("again %d %+v: got %+v, want %+v", i, ad, again[i], want)
				}
			}
		})
	}
}

func keylessSum(adds []idemsum.Addition) *big.Int {
	s := new(big.Int)
	for _, a := range adds {
		if a.Key == "" {
			s.Add(s, num(a.Number))
		}
	}
	return s
}

// TestLedgerExistingKeys mixes keys committed by earlier batches into new
// ones: they are Existing with their stored number and total, and the new
// additions around them get exact totals.
func TestLedgerExistingKeys(t *testing.T) {
	t.Parallel()
	l, db := newLedger(t)
	a := func(key string, n uint64) idemsum.Addition { return idemsum.Addition{Key: key, Number: n} }
	addAll(t, l, a("a", 5), a("b", 7))
	steps := []struct {
		adds []idemsum.Addition
		want []idemsum.Result
	}{
		{[]idemsum.Addition{a("c", 1), a("a", 9), a("d", 2), a("b", 7)},
			[]idemsum.Result{{Total: "13", Number: 1}, {Total: "5", Number: 5, Existing: true}, {Total: "15", Number: 2}, {Total: "12", Number: 7, Existing: true}}},
		{[]idemsum.Addition{a("a", 5), a("b", 1)},
			[]idemsum.Result{{Total: "5", Number: 5, Existing: true}, {Total: "12", Number: 7, Existing: true}}},
		{[]idemsum.Addition{a("a", 1), a("a", 2), a("", 10), a("e", 3), a("e", 4)},
			[]idemsum.Result{{Total: "5", Number: 5, Existing: true}, {Total: "5", Number: 5, Existing: true}, {Total: "25", Number: 10}, {Total: "28", Number: 3}, {Total: "28", Number: 3, Existing: true}}},
	}
	for i, s := range steps {
		if got := addAll(t, l, s.adds...); !slices.Equal(got, s.want) {
			t.Errorf("step %d:\ngot  %+v\nwant %+v", i, got, s.want)
		}
	}
	if got := totalOf(t, l); got != "28" {
		t.Errorf("total: got %s, want 28", got)
	}
	assertConsistent(t, db, big.NewInt(10))
}

// TestLedgerHugeTotals adds 2^63-1 many times: the total passes 2^64 and
// stays exact, in every result and in the stored key records.
func TestLedgerHugeTotals(t *testing.T) {
	t.Parallel()
	l, db := newLedger(t)
	total := new(big.Int)
	var results []idemsum.Result
	var adds []idemsum.Addition
	for batch := range 4 {
		var b []idemsum.Addition
		for i := range 8 {
			key := ""
			if i%2 == 0 {
				key = fmt.Sprintf("k%d-%d", batch, i)
			}
			b = append(b, idemsum.Addition{Key: key, Number: maxN - uint64(i%3)})
		}
		res := addAll(t, l, b...)
		total = assertChain(t, total, b, res)
		adds, results = append(adds, b...), append(results, res...)
	}
	if limit := new(big.Int).Lsh(big.NewInt(1), 64); total.Cmp(limit) <= 0 {
		t.Fatalf("total %v: want it above 2^64 for this test", total)
	}
	if got := totalOf(t, l); got != total.String() {
		t.Errorf("total: got %s, want %v", got, total)
	}
	assertConsistent(t, db, keylessSum(adds))
	for i, a := range adds {
		if a.Key == "" {
			continue
		}
		got := addAll(t, l, a)[0]
		if want := results[i]; got.Total != want.Total || got.Number != want.Number || !got.Existing {
			t.Errorf("replay of %+v: got %+v, want %+v Existing", a, got, want)
		}
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
// new keys, keys repeated within the batch and keys from earlier batches.
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

// outcome is one addition and its result.
type outcome struct {
	add idemsum.Addition
	res idemsum.Result
}

// concurrentSameKeys has 16 goroutines add the same keys (of round) in
// different orders and batch sizes, each with one keyless addition too.
// With retry, a batch that failed on an InnoDB deadlock (rolled back
// whole, so safe to resend) is sent again; other errors, and every error
// without retry, are returned.
func concurrentSameKeys(l *mysql.Ledger, round int, retry bool) ([]outcome, []error) {
	const workers = 16
	var (
		mu       sync.Mutex
		outcomes []outcome
		errs     []error
		wg       sync.WaitGroup
		start    = make(chan struct{})
	)
	for w := range workers {
		wg.Go(func() {
			<-start
			rng := rand.New(rand.NewPCG(uint64(w), uint64(round)))
			adds := []idemsum.Addition{{Number: uint64(1000 + w)}}
			for _, k := range rng.Perm(sharedKeys) {
				adds = append(adds, idemsum.Addition{Key: fmt.Sprintf("r%d-k%02d", round, k), Number: uint64(k + 1)})
			}
			for len(adds) > 0 {
				n := min(len(adds), 1+rng.IntN(8))
				res, err := l.Add(context.Background(), adds[:n])
				mu.Lock()
				if err != nil {
					errs = append(errs, fmt.Errorf("worker %d: add %v: %w", w, adds[:n], err))
				}
				for i := range res {
					outcomes = append(outcomes, outcome{adds[i], res[i]})
				}
				mu.Unlock()
				if err != nil && (!retry || !isDeadlock(err)) {
					return
				}
				if err == nil {
					adds = adds[n:]
				}
			}
		})
	}
	close(start)
	wg.Wait()
	return outcomes, errs
}

const sharedKeys = 48

func isDeadlock(err error) bool {
	var me *mysqldriver.MySQLError
	return errors.As(err, &me) && me.Number == 1213
}

// TestLedgerConcurrentSameKeys has 16 goroutines add the same keys in
// different orders and batch sizes: each key is added exactly once, every
// caller gets the same result for it, and the totals form one serial
// order (DESIGN §4.1, §4.2). Batches that failed with an InnoDB deadlock
// are resent, as Ledger.Add's contract allows (see the next test).
func TestLedgerConcurrentSameKeys(t *testing.T) {
	t.Parallel()
	l, db := newLedger(t)
	outcomes, errs := concurrentSameKeys(l, 0, true)
	deadlocks := 0
	for _, err := range errs {
		if !isDeadlock(err) {
			t.Fatalf("got %v, want no error other than a deadlock", err)
		}
		deadlocks++
	}
	t.Logf("%d batches were resent after a deadlock", deadlocks)
	added := map[string]idemsum.Result{}
	var fresh []outcome
	for _, o := range outcomes {
		if o.res.Existing {
			continue
		}
		fresh = append(fresh, o)
		if o.add.Key == "" {
			continue
		}
		if prev, ok := added[o.add.Key]; ok {
			t.Errorf("key %s: added twice, got %+v and %+v", o.add.Key, prev, o.res)
		}
		added[o.add.Key] = o.res
	}
	if len(added) != sharedKeys {
		t.Errorf("keys added: got %d, want %d", len(added), sharedKeys)
	}
	for _, o := range outcomes {
		if want, ok := added[o.add.Key]; ok && (o.res.Total != want.Total || o.res.Number != want.Number) {
			t.Errorf("key %s: got %+v, want the first addition's %+v", o.add.Key, o.res, want)
		}
	}
	slices.SortFunc(fresh, func(a, b outcome) int { return bigOf(t, a.res.Total).Cmp(bigOf(t, b.res.Total)) })
	prev := new(big.Int)
	for _, o := range fresh {
		if want := new(big.Int).Add(prev, num(o.add.Number)); bigOf(t, o.res.Total).Cmp(want) != 0 {
			t.Errorf("addition %+v: got total %s, want %v", o.add, o.res.Total, want)
		}
		prev = bigOf(t, o.res.Total)
	}
	keyless := new(big.Int)
	for w := range 16 {
		keyless.Add(keyless, big.NewInt(int64(1000+w)))
	}
	want := new(big.Int).Add(keyless, big.NewInt(sharedKeys*(sharedKeys+1)/2))
	if got := totalOf(t, l); got != want.String() || prev.Cmp(want) != 0 {
		t.Errorf("total: got %s (last response %v), want %v", got, prev, want)
	}
	assertConsistent(t, db, keyless)
}

// TestLedgerConcurrentSameKeysWithoutDeadlockErrors runs the workload of
// TestLedgerConcurrentSameKeys 40 times and wants no error at all:
// nothing is wrong with these batches, so none should fail. (Concurrent
// batches that share keys can deadlock in InnoDB; Ledger.Add inserts keys
// in sorted order and resends a batch rolled back by a deadlock.)
func TestLedgerConcurrentSameKeysWithoutDeadlockErrors(t *testing.T) {
	t.Parallel()
	l, _ := newLedger(t)
	for round := range 40 {
		_, errs := concurrentSameKeys(l, round, false)
		for _, err := range errs {
			t.Errorf("round %d: got %v, want no error", round, err)
		}
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

// TestLedgerCancelledContext checks that a caller's cancelled context, or
// a round trip cut short by the Ledger's timeout, leaves no half
// transaction: the total always matches the recorded keys, the pool stays
// usable, and retrying the same keys adds each exactly once.
func TestLedgerCancelledContext(t *testing.T) {
	t.Parallel()
	l, db := newLedger(t)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	adds := []idemsum.Addition{{Key: "c0", Number: 1}, {Key: "c1", Number: 2}}
	res, err := l.Add(cancelled, adds)
	if err != nil {
		t.Logf("add with a cancelled context: %v", err)
	} else if res[1].Total != "3" {
		t.Errorf("add with a cancelled context: got %+v, want totals 1 and 3", res)
	}
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

// timeoutFor spreads round-trip timeouts from 1µs to about 4ms, so that
// batches are cut short at every stage.
func timeoutFor(i int) time.Duration {
	return time.Duration(1+(i*i*97)%4000) * time.Microsecond
}
