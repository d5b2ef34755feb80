package mysql_test

import (
	"context"
	"database/sql"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idemsum/idemsum"
	"github.com/idemsum/idemsum/idemsumtest"
	"github.com/idemsum/idemsum/mysql"
	"github.com/idemsum/idemsum/mysql/mysqltest"
)

func newLedger(tb testing.TB) (*mysql.Ledger, *sql.DB) {
	tb.Helper()
	db := mysqltest.DB(tb)
	return &mysql.Ledger{DB: db}, db
}

// TestLedgerConforms runs idemsumtest's Ledger suite on the MySQL Ledger,
// each subtest on a database of its own; Flaky Ledgers cut round trips
// short with timeouts from 1µs to 4ms, so that batches fail at every
// stage, COMMIT included.
func TestLedgerConforms(t *testing.T) {
	t.Parallel()
	idemsumtest.TestLedger(t, idemsumtest.Harness{
		New: func(t *testing.T) idemsum.Ledger {
			l, _ := newLedger(t)
			return l
		},
		Flaky: func(_ *testing.T, l idemsum.Ledger) idemsum.Ledger {
			return &shortLedger{db: l.(*mysql.Ledger).DB}
		},
	})
}

// shortLedger is a MySQL Ledger over db whose every Add has a round-trip
// timeout of its own (timeoutFor).
type shortLedger struct {
	db *sql.DB
	n  atomic.Int64
}

func (s *shortLedger) Add(ctx context.Context, adds []idemsum.Addition) ([]idemsum.Result, error) {
	l := &mysql.Ledger{DB: s.db, Timeout: timeoutFor(int(s.n.Add(1)))}
	return l.Add(ctx, adds)
}

func (s *shortLedger) Total(ctx context.Context) (string, error) {
	return (&mysql.Ledger{DB: s.db}).Total(ctx)
}

// TestLedgerStampsKeysWithItsClock checks that key records carry the
// injected clock's time (what retention purges by).
func TestLedgerStampsKeysWithItsClock(t *testing.T) {
	t.Parallel()
	l, db := newLedger(t)
	at := time.Date(2030, 1, 2, 3, 4, 5, 6e6, time.UTC)
	l.Now = func() time.Time { return at }
	addAll(t, l, idemsum.Addition{Key: "a", Number: 1}, idemsum.Addition{Number: 2})
	var ms int64
	if err := db.QueryRow("SELECT created_ms FROM sum_ledger WHERE idem_key = 'a'").Scan(&ms); err != nil || ms != at.UnixMilli() {
		t.Errorf("created_ms: got %d (%v), want %d", ms, err, at.UnixMilli())
	}
	var rows int
	if err := db.QueryRow("SELECT COUNT(*) FROM sum_ledger").Scan(&rows); err != nil || rows != 1 {
		t.Errorf("ledger rows: got %d (%v), want 1 (keyless additions leave no record)", rows, err)
	}
}

// TestLedgerErrorsWhenMySQLIsGone checks that Add and Total report an
// error, not a result, when the database cannot be reached.
func TestLedgerErrorsWhenMySQLIsGone(t *testing.T) {
	t.Parallel()
	l, db := newLedger(t)
	addAll(t, l, idemsum.Addition{Key: "a", Number: 1})
	db.Close()
	if res, err := l.Add(context.Background(), []idemsum.Addition{{Key: "b", Number: 1}}); err == nil {
		t.Errorf("add: got %+v, nil; want an error", res)
	}
	if tot, err := l.Total(context.Background()); err == nil {
		t.Errorf("total: got %q, nil; want an error", tot)
	}
}

// TestLedgerCreated: a Result carries when its key was first recorded, by
// the Ledger's clock: a new addition now, an Existing one its first time.
func TestLedgerCreated(t *testing.T) {
	t.Parallel()
	l, _ := newLedger(t)
	c := &clock{t: time.UnixMilli(1_700_000_000_123)}
	l.Now = c.Now
	first := c.Now()
	ctx := context.Background()
	if _, err := l.Add(ctx, []idemsum.Addition{{Key: "a", Number: 1}}); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Hour)
	res, err := l.Add(ctx, []idemsum.Addition{{Key: "a", Number: 1}, {Key: "b", Number: 2}, {Number: 3}})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []time.Time{first, c.Now(), c.Now()} {
		if !res[i].Created.Equal(want) {
			t.Errorf("result %d %+v: Created got %v, want %v", i, res[i], res[i].Created, want)
		}
	}
}

// TestLedgerRefusesNumbersOutOfRange: the number rule holds at the
// Ledger's boundary too; such a batch changes nothing.
func TestLedgerRefusesNumbersOutOfRange(t *testing.T) {
	t.Parallel()
	l, _ := newLedger(t)
	for _, n := range []uint64{0, idemsum.MaxNumber + 1} {
		_, err := l.Add(context.Background(), []idemsum.Addition{{Key: "ok", Number: 1}, {Key: "bad", Number: n}})
		if idemsum.ErrorCode(err) != idemsum.EINVALID {
			t.Errorf("Add with number %d: got %v, want an %s error", n, err, idemsum.EINVALID)
		}
	}
	if tot, err := l.Total(context.Background()); err != nil || tot != "0" {
		t.Errorf("total after refused batches: got %s, %v; want 0", tot, err)
	}
}
