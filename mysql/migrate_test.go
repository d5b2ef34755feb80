package mysql_test

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/idemsum/idemsum"
	"github.com/idemsum/idemsum/internal/testenv"
	"github.com/idemsum/idemsum/mysql"
)

// openDB opens the test database dsn the way sumd does.
func openDB(tb testing.TB, dsn string) *sql.DB {
	tb.Helper()
	db, err := mysql.Open(context.Background(), dsn, 4)
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// TestMigrateConcurrently starts three "instances" on a fresh database at
// once: all succeed, and migrating again changes nothing, not even the
// total.
func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	dsn := testenv.MySQL(t)
	ctx := context.Background()
	dbs := []*sql.DB{openDB(t, dsn), openDB(t, dsn), openDB(t, dsn)}
	start := make(chan struct{})
	errs := make([]error, len(dbs))
	var wg sync.WaitGroup
	for i, db := range dbs {
		wg.Go(func() {
			<-start
			errs[i] = mysql.Migrate(ctx, db)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("instance %d: got %v, want nil", i, err)
		}
	}
	before := schemaOf(t, dbs[0])
	l := &mysql.Ledger{DB: dbs[0]}
	addAll(t, l, idemsum.Addition{Key: "k", Number: 5}, idemsum.Addition{Number: 7})
	for i, db := range dbs {
		if err := mysql.Migrate(ctx, db); err != nil {
			t.Fatalf("migrate again %d: got %v, want nil", i, err)
		}
	}
	if after := schemaOf(t, dbs[1]); after != before {
		t.Errorf("schema after migrating again:\ngot  %s\nwant %s", after, before)
	}
	if got := totalOf(t, l); got != "12" {
		t.Errorf("total after migrating again: got %s, want 12", got)
	}
	if res := addAll(t, l, idemsum.Addition{Key: "k", Number: 5}); !res[0].Existing || res[0].Total != "5" {
		t.Errorf("key after migrating again: got %+v, want Existing with total 5", res[0])
	}
	var rows int
	if err := dbs[2].QueryRow("SELECT COUNT(*) FROM sum_total").Scan(&rows); err != nil || rows != 1 {
		t.Errorf("sum_total rows: got %d (%v), want 1", rows, err)
	}
}

// schemaOf returns every table's definition, and the rows of the
// bookkeeping tables (names ending in schema_migrations).
func schemaOf(tb testing.TB, db *sql.DB) string {
	tb.Helper()
	var b strings.Builder
	for _, table := range queryStrings(tb, db, "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY table_name") {
		var name, ddl string
		if err := db.QueryRow("SHOW CREATE TABLE `"+table+"`").Scan(&name, &ddl); err != nil {
			tb.Fatalf("show create table %s: %v", table, err)
		}
		b.WriteString(ddl + "\n")
		if strings.HasSuffix(table, "schema_migrations") {
			for _, row := range queryStrings(tb, db, "SELECT CONCAT_WS(' ', version, name) FROM `"+table+"` ORDER BY version") {
				b.WriteString(row + "\n")
			}
		}
	}
	return b.String()
}

func queryStrings(tb testing.TB, db *sql.DB, q string, args ...any) []string {
	tb.Helper()
	rows, err := db.Query(q, args...)
	if err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			tb.Fatalf("%s: scan: %v", q, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
	return out
}

// TestMigrateSchema checks what the ledger relies on: no stored routines,
// triggers or events (docs/design.md#constraints), InnoDB tables, an exact
// DECIMAL(65,0) total, and a case-sensitive unique key: (client, idem_key).
func TestMigrateSchema(t *testing.T) {
	t.Parallel()
	_, db := newLedger(t)
	forbidden := []struct{ what, query string }{
		{"routines", "SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()"},
		{"triggers", "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()"},
		{"events", "SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE()"},
	}
	for _, f := range forbidden {
		if got := queryStrings(t, db, f.query); len(got) != 0 {
			t.Errorf("%s: got %q, want none", f.what, got)
		}
	}
	engines := queryStrings(t, db, "SELECT CONCAT(table_name, ' ', engine) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name LIKE 'sum\\_%' ORDER BY table_name")
	if want := []string{"sum_deployment InnoDB", "sum_ledger InnoDB", "sum_total InnoDB"}; !slices.Equal(engines, want) {
		t.Errorf("tables: got %q, want %q", engines, want)
	}
	columns := []struct{ table, column, want string }{
		{"sum_total", "total", "decimal(65,0)"},
		{"sum_ledger", "total", "decimal(65,0)"},
		{"sum_ledger", "number", "bigint(20) unsigned"},
		{"sum_ledger", "idem_key", "varbinary(255)"},
		{"sum_ledger", "client", "varbinary(64)"},
	}
	for _, c := range columns {
		got := queryStrings(t, db, "SELECT column_type FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? AND column_name = ?", c.table, c.column)
		if len(got) != 1 || strings.ReplaceAll(got[0], "(20)", "") != strings.ReplaceAll(c.want, "(20)", "") {
			t.Errorf("%s.%s: got %q, want %q", c.table, c.column, got, c.want)
		}
	}
	unique := queryStrings(t, db, "SELECT column_name FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 'sum_ledger' AND non_unique = 0 ORDER BY index_name, seq_in_index")
	if !slices.Equal(unique, []string{"client", "idem_key"}) {
		t.Errorf("unique columns of sum_ledger: got %q, want [client idem_key]", unique)
	}
}
