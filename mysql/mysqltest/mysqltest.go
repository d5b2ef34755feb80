// Package mysqltest gives tests of other packages a MySQL database of
// their own with sumd's schema: the one set-up the mysql, groupcommit and
// ledgercache tests share.
package mysqltest

import (
	"context"
	"database/sql"
	"testing"

	"github.com/idemsum/idemsum/internal/testenv"
	"github.com/idemsum/idemsum/mysql"
)

// DB returns a pool of 8 connections to a database of tb's own
// (testenv.MySQL: skipped, or failed with IDEMSUM_REQUIRE_SERVICES=1,
// when MySQL is absent), migrated to sumd's schema and closed when tb
// ends.
func DB(tb testing.TB) *sql.DB {
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
	return db
}
