package mysql_test

import (
	"context"
	"database/sql"
	"testing"

	"idemsum"
	"idemsum/internal/testenv"
	"idemsum/mysql"
)

func newLedger(tb testing.TB) (*mysql.Ledger, *sql.DB) {
	tb.Helper()
	ctx := context.Background()
	db, err := mysql.Open(ctx, testenv.MySQL(tb), 8)
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := mysql.Migrate(ctx, db); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	return &mysql.Ledger{DB: db}, db
}

func TestLedgerAddSmoke(t *testing.T) {
	t.Parallel()
	l, _ := newLedger(t)
	ctx := context.Background()
	got, err := l.Add(ctx, []idemsum.Addition{{Key: "a", Number: 5}, {Number: 7}, {Key: "b", Number: 3}, {Key: "a", Number: 9}})
	if err != nil {
		t.Fatalf("add: %v", err)
	}
	t.Logf("%+v", got)
	got, err = l.Add(ctx, []idemsum.Addition{{Key: "c", Number: 1}, {Key: "a", Number: 5}, {Key: "d", Number: 2}})
	if err != nil {
		t.Fatalf("add: %v", err)
	}
	t.Logf("%+v", got)
	tot, err := l.Total(ctx)
	t.Logf("total %s %v", tot, err)
}
