package mysql_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/big"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/idemsum/idemsum"
	"github.com/idemsum/idemsum/mysql"
)

// oldAdd adds number under key with the statements of the previous release
// (before keys were scoped per client): its INSERT names no client column
// and its UPDATE and SELECT find rows by idem_key alone. It returns the
// key's recorded number and total, and whether the key existed.
func oldAdd(ctx context.Context, db *sql.DB, key string, number uint64) (uint64, string, bool, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return 0, "", false, err
	}
	defer conn.Close()
	q := fmt.Sprintf(`START TRANSACTION;
INSERT INTO sum_ledger (idem_key, number, total, created_ms) VALUES (?, %d, 0, %d);
UPDATE sum_total SET total = total + %d WHERE id = 1;
UPDATE sum_ledger SET total = (SELECT total FROM sum_total WHERE id = 1) - total WHERE idem_key IN (?);
SELECT total FROM sum_total WHERE id = 1;
COMMIT`, number, time.Now().UnixMilli(), number)
	for range 50 {
		rows, err := conn.QueryContext(ctx, q, key, key)
		var total string
		if err == nil {
			for {
				for rows.Next() {
					err = rows.Scan(&total)
				}
				if !rows.NextResultSet() {
					break
				}
			}
			if rerr := rows.Err(); err == nil {
				err = rerr
			}
			rows.Close()
		}
		if err == nil {
			return number, total, false, nil
		}
		conn.ExecContext(ctx, "ROLLBACK")
		var n uint64
		serr := conn.QueryRowContext(ctx, "SELECT number, total FROM sum_ledger WHERE idem_key IN (?)", key).Scan(&n, &total)
		if serr == nil {
			return n, total, true, nil
		}
		if serr != sql.ErrNoRows {
			return 0, "", false, serr
		}
	}
	return 0, "", false, fmt.Errorf("old add %s: no progress", key)
}

// answer is what one instance answered for a key.
type answer struct {
	key, client, total string
	number             uint64
}

// TestRollingUpgradeAcrossTheClientScopeMigration plays a rolling upgrade
// on a database the previous release created, with rows in it: instances
// of the old release keep adding while the new release migrates the table
// (online) and moves the bookkeeping, an old instance restarts (and runs
// no migration), and the new release adds the same keys as the anonymous
// client. Every key is added once, every answer is its row, old rows keep their totals, and
// once the old instances are gone a named client's same keys are new
// additions of its own.
func TestRollingUpgradeAcrossTheClientScopeMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := legacyDB(t, 2)
	const keys = 400
	numberOf := func(k int) uint64 { return uint64(k*7 + 1) }
	keyOf := func(k int) string { return fmt.Sprintf("up-%03d", k) }
	for k := range 40 { // rows written before the upgrade began
		if _, _, _, err := oldAdd(ctx, db, keyOf(k), numberOf(k)); err != nil {
			t.Fatal(err)
		}
	}
	seeded := rowsOf(t, db)

	var (
		mu      sync.Mutex
		answers []answer
		wg      sync.WaitGroup
		stopOld = make(chan struct{})
	)
	record := func(a answer) { mu.Lock(); answers = append(answers, a); mu.Unlock() }
	for w := range 3 { // old instances
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for i := 0; ; i++ {
				select {
				case <-stopOld:
					return
				default:
				}
				k := rng.IntN(keys)
				n, total, _, err := oldAdd(ctx, db, keyOf(k), numberOf(k))
				if err != nil {
					t.Errorf("old instance: %v", err)
					return
				}
				record(answer{key: keyOf(k), total: total, number: n})
			}
		})
	}
	if err := mysql.Migrate(ctx, db); err != nil { // the first new instance starts
		t.Fatalf("migrate while old instances add: %v", err)
	}
	if ran, err := oldMigrate(ctx, db); err != nil || len(ran) != 0 { // an old instance restarts
		t.Fatalf("an old instance starting after the migration: ran %q, %v; want nothing, no error", ran, err)
	}
	l := &mysql.Ledger{DB: db}
	var nw sync.WaitGroup
	for w := range 3 { // new instances, anonymous clients, alongside the old
		nw.Go(func() {
			for _, k := range rand.New(rand.NewPCG(uint64(w), 2)).Perm(keys) {
				res, err := l.Add(ctx, []idemsum.Addition{{Key: keyOf(k), Number: numberOf(k)}})
				if err != nil {
					t.Errorf("new instance: %v", err)
					return
				}
				record(answer{key: keyOf(k), total: res[0].Total, number: res[0].Number})
			}
		})
	}
	nw.Wait()
	close(stopOld)
	wg.Wait()

	// The old instances are gone: a named client's same keys are its own.
	for k := range keys {
		res, err := l.Add(ctx, []idemsum.Addition{{Client: "acme", Key: keyOf(k), Number: numberOf(k) + 1}})
		if err != nil {
			t.Fatal(err)
		}
		if res[0].Existing {
			t.Fatalf("acme's %s: got an existing result %+v, want a new addition", keyOf(k), res[0])
		}
		record(answer{key: keyOf(k), client: "acme", total: res[0].Total, number: res[0].Number})
	}

	rows := rowsOf(t, db)
	want := new(big.Int)
	for k := range keys {
		want.Add(want, new(big.Int).SetUint64(numberOf(k)*2+1))
	}
	if got := totalOf(t, l); got != want.String() {
		t.Errorf("total: got %s, want %s (each key once per client)", got, want)
	}
	if len(rows) != 2*keys {
		t.Errorf("ledger rows: got %d, want %d", len(rows), 2*keys)
	}
	for id, r := range seeded {
		if rows[id] != r {
			t.Errorf("row %v written before the upgrade: got %+v after it, want %+v", id, rows[id], r)
		}
	}
	for _, a := range answers {
		r, ok := rows[[2]string{a.client, a.key}]
		if !ok || r.number != a.number || r.total != a.total {
			t.Errorf("answer %+v: its row is %+v (found %v)", a, r, ok)
		}
	}
	t.Logf("%d answers, %d rows", len(answers), len(rows))
}

type row struct {
	number uint64
	total  string
}

// rowsOf returns every ledger row by (client, key).
func rowsOf(tb testing.TB, db *sql.DB) map[[2]string]row {
	tb.Helper()
	hasClient := len(queryStrings(tb, db, "SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'sum_ledger' AND column_name = 'client'")) == 1
	q := "SELECT '', idem_key, number, total FROM sum_ledger"
	if hasClient {
		q = "SELECT client, idem_key, number, total FROM sum_ledger"
	}
	rs, err := db.Query(q)
	if err != nil {
		tb.Fatal(err)
	}
	defer rs.Close()
	out := map[[2]string]row{}
	for rs.Next() {
		var c, k string
		var r row
		if err := rs.Scan(&c, &k, &r.number, &r.total); err != nil {
			tb.Fatal(err)
		}
		out[[2]string{c, k}] = r
	}
	if err := rs.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// TestMigrateAgainAfterACrash: a client-scope migration that changed the
// table but was cut short before it was listed as applied is recognised
// and listed, not run again into an error.
func TestMigrateAgainAfterACrash(t *testing.T) {
	t.Parallel()
	l, db := newLedger(t)
	addAll(t, l, idemsum.Addition{Client: "a", Key: "k", Number: 3})
	before := schemaOf(t, db)
	if _, err := db.Exec("DELETE FROM idemsum_schema_migrations WHERE version = 3"); err != nil {
		t.Fatal(err)
	}
	if err := mysql.Migrate(context.Background(), db); err != nil {
		t.Fatalf("migrate again: got %v, want nil", err)
	}
	if after := schemaOf(t, db); after != before {
		t.Errorf("schema:\ngot  %s\nwant %s", after, before)
	}
}
