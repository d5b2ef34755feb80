package mysql_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/idemsum/idemsum"
	"github.com/idemsum/idemsum/internal/testenv"
	"github.com/idemsum/idemsum/mysql"
)

// legacyDDL is the bookkeeping table of the releases before
// idemsum_schema_migrations, as they created it (mysql/migrate.go at
// 64189f8).
const legacyDDL = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INT NOT NULL PRIMARY KEY,
  name VARCHAR(255) NOT NULL
) ENGINE=InnoDB`

// wantListed is what idemsum_schema_migrations lists once migrated.
var wantListed = []string{"1 0001_init.sql", "2 0002_deployment.sql", "3 0003_client_scope.sql"}

// legacyDB returns a database as an earlier release left it, migrated up
// to version: its schema, and its bookkeeping in schema_migrations alone.
func legacyDB(t *testing.T, version int) *sql.DB {
	t.Helper()
	db := openDB(t, testenv.MySQL(t))
	if err := mysql.MigrateTo(context.Background(), db, version); err != nil {
		t.Fatal(err)
	}
	exec(t, db, legacyDDL)
	exec(t, db, "INSERT INTO schema_migrations (version, name) SELECT version, name FROM idemsum_schema_migrations")
	exec(t, db, "DROP TABLE idemsum_schema_migrations")
	return db
}

// oldMigrate is an earlier release's instance starting: its migration
// code, literally (mysql/migrate.go at 64189f8), on the migration files
// it knew, those up to version 3. It returns the files whose body it ran.
func oldMigrate(ctx context.Context, db *sql.DB) ([]string, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 60)", "idemsum.migrate").Scan(&got); err != nil || got.Int64 != 1 {
		return nil, errors.New("old migrate: no lock")
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "DO RELEASE_LOCK(?)", "idemsum.migrate")
	if _, err := conn.ExecContext(ctx, legacyDDL); err != nil {
		return nil, err
	}
	var ran []string
	for _, base := range []string{"0001_init.sql", "0002_deployment.sql", "0003_client_scope.sql"} {
		version, _ := strconv.Atoi(base[:4])
		var n int
		if err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations WHERE version = ?", version).Scan(&n); err != nil {
			return ran, err
		}
		if n > 0 {
			continue
		}
		body, err := os.ReadFile(filepath.Join("migrations", base))
		if err != nil {
			return ran, err
		}
		done := false
		if q, ok := strings.CutPrefix(strings.SplitN(string(body), "\n", 2)[0], "-- applied-if: "); ok {
			var c int
			if err := conn.QueryRowContext(ctx, q).Scan(&c); err != nil {
				return ran, err
			}
			done = c > 0
		}
		if !done {
			if _, err := conn.ExecContext(ctx, string(body)); err != nil {
				return ran, err
			}
			ran = append(ran, base)
		}
		if _, err := conn.ExecContext(ctx, "INSERT INTO schema_migrations (version, name) VALUES (?, ?)", version, base); err != nil {
			return ran, err
		}
	}
	return ran, nil
}

// listedIn returns table's rows as "version name".
func listedIn(tb testing.TB, db *sql.DB, table string) []string {
	tb.Helper()
	return queryStrings(tb, db, "SELECT CONCAT(version, ' ', name) FROM "+table+" ORDER BY version")
}

// createOf returns SHOW CREATE TABLE of table.
func createOf(tb testing.TB, db *sql.DB, table string) string {
	tb.Helper()
	var name, ddl string
	if err := db.QueryRow("SHOW CREATE TABLE "+table).Scan(&name, &ddl); err != nil {
		tb.Fatalf("show create table %s: %v", table, err)
	}
	return ddl
}

// TestMigrateMovesAnEarlierReleasesBookkeeping upgrades databases an
// earlier release migrated (up to version 2, before key scopes, and up to
// 3, the release just before the table's rename), with additions in
// them: the rows of schema_migrations are copied to
// idemsum_schema_migrations, schema_migrations stays as it was, the
// missing migrations are applied, and nothing is lost. Then an instance
// of the earlier release starts, as during a rolling upgrade or a roll
// back: it runs no migration and fails on nothing, and the new release's
// check still passes.
func TestMigrateMovesAnEarlierReleasesBookkeeping(t *testing.T) {
	t.Parallel()
	for _, version := range []int{2, 3} {
		t.Run("from version "+strconv.Itoa(version), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := legacyDB(t, version)
			if _, _, _, err := oldAdd(ctx, db, "before", 5); err != nil {
				t.Fatal(err)
			}
			legacyRows, legacyCreate := listedIn(t, db, "schema_migrations"), createOf(t, db, "schema_migrations")
			if err := mysql.CheckSchema(ctx, db); !errors.Is(err, mysql.ErrSchemaBehind) {
				t.Errorf("CheckSchema before: got %v, want ErrSchemaBehind", err)
			}
			r, err := mysql.MigrateReport(ctx, db)
			if err != nil {
				t.Fatalf("migrate: %v", err)
			}
			if want := wantListed[version:]; r.Adopted != int64(version) || r.Version != 3 || !slices.Equal(r.Applied, names(want)) {
				t.Errorf("report: got %+v, want %d rows copied, %q applied, version 3", r, version, names(want))
			}
			if got := listedIn(t, db, mysql.Table); !slices.Equal(got, wantListed) {
				t.Errorf("%s: got %q, want %q", mysql.Table, got, wantListed)
			}
			if got := listedIn(t, db, "schema_migrations"); !slices.Equal(got, legacyRows) {
				t.Errorf("schema_migrations after: got %q, want it untouched: %q", got, legacyRows)
			}
			if got := createOf(t, db, "schema_migrations"); got != legacyCreate {
				t.Errorf("schema_migrations after:\ngot  %s\nwant %s", got, legacyCreate)
			}
			// It may list version 3 in schema_migrations (it knows the file,
			// whose applied-if query says it is applied), nothing more.
			schema := ddlOf(t, db)
			ran, err := oldMigrate(ctx, db)
			if err != nil || len(ran) != 0 {
				t.Errorf("an earlier release's instance starting after the move: ran %q, %v; want nothing run, no error", ran, err)
			}
			if got := ddlOf(t, db); got != schema {
				t.Errorf("schema after the earlier release started:\ngot  %s\nwant %s", got, schema)
			}
			if got := listedIn(t, db, mysql.Table); !slices.Equal(got, wantListed) {
				t.Errorf("%s after the earlier release started: got %q, want %q", mysql.Table, got, wantListed)
			}
			if err := mysql.CheckSchema(ctx, db); err != nil {
				t.Errorf("CheckSchema after: %v", err)
			}
			l := &mysql.Ledger{DB: db}
			if res := addAll(t, l, idemsum.Addition{Key: "before", Number: 5}, idemsum.Addition{Key: "after", Number: 7}); !res[0].Existing || res[0].Total != "5" || res[1].Total != "12" {
				t.Errorf("additions after the move: got %+v, want the earlier key replayed (5) and a new one (12)", res)
			}
		})
	}
}

// ddlOf returns every table's definition.
func ddlOf(tb testing.TB, db *sql.DB) string {
	tb.Helper()
	var b strings.Builder
	for _, table := range queryStrings(tb, db, "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY table_name") {
		b.WriteString(createOf(tb, db, table) + "\n")
	}
	return b.String()
}

// names strips "version " from rows of listedIn.
func names(rows []string) []string {
	var out []string
	for _, r := range rows {
		_, n, _ := strings.Cut(r, " ")
		out = append(out, n)
	}
	return out
}

// TestMigrateAfterACrashWhileMovingTheBookkeeping: a migration cut short
// after idemsum_schema_migrations was created, empty or with some of the
// earlier release's rows, is finished by the next run, which applies no
// migration again.
func TestMigrateAfterACrashWhileMovingTheBookkeeping(t *testing.T) {
	t.Parallel()
	for _, copied := range []int{0, 1} {
		t.Run(strconv.Itoa(copied)+" rows copied", func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := legacyDB(t, 3)
			exec(t, db, "CREATE TABLE idemsum_schema_migrations (version INT NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL) ENGINE=InnoDB")
			exec(t, db, "INSERT INTO idemsum_schema_migrations SELECT version, name FROM schema_migrations WHERE version <= "+strconv.Itoa(copied))
			r, err := mysql.MigrateReport(ctx, db)
			if err != nil {
				t.Fatalf("migrate again: %v", err)
			}
			if len(r.Applied) != 0 || r.Adopted != int64(3-copied) {
				t.Errorf("report: got %+v, want no migration applied and %d rows copied", r, 3-copied)
			}
			if got := listedIn(t, db, mysql.Table); !slices.Equal(got, wantListed) {
				t.Errorf("%s: got %q, want %q", mysql.Table, got, wantListed)
			}
		})
	}
}

// TestMigrateLeavesOtherSchemaMigrationsAlone: a schema shared with
// golang-migrate, whose schema_migrations (version, dirty) says version
// 3, or holding another tool's table of our old shape whose rows are not
// our files, gets every migration of ours, and that table is neither
// changed nor read as ours.
func TestMigrateLeavesOtherSchemaMigrationsAlone(t *testing.T) {
	t.Parallel()
	tables := []struct{ name, ddl, row string }{
		{"golang-migrate", "CREATE TABLE schema_migrations (version bigint NOT NULL, dirty boolean NOT NULL, PRIMARY KEY (version))", "INSERT INTO schema_migrations VALUES (3, false)"},
		{"another tool of the same shape", "CREATE TABLE schema_migrations (version INT NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL)", "INSERT INTO schema_migrations VALUES (3, '0003_their_own.sql')"},
	}
	for _, tc := range tables {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := openDB(t, testenv.MySQL(t))
			exec(t, db, tc.ddl)
			exec(t, db, tc.row)
			rows, create := queryStrings(t, db, "SELECT CONCAT_WS(' ', version, 1) FROM schema_migrations"), createOf(t, db, "schema_migrations")
			r, err := mysql.MigrateReport(ctx, db)
			if err != nil {
				t.Fatalf("migrate: %v", err)
			}
			if !slices.Equal(r.Applied, names(wantListed)) || r.Adopted != 0 {
				t.Errorf("report: got %+v, want every migration applied, nothing copied", r)
			}
			if got := queryStrings(t, db, "SELECT CONCAT_WS(' ', version, 1) FROM schema_migrations"); !slices.Equal(got, rows) {
				t.Errorf("schema_migrations rows: got %q, want %q", got, rows)
			}
			if got := createOf(t, db, "schema_migrations"); got != create {
				t.Errorf("schema_migrations:\ngot  %s\nwant %s", got, create)
			}
			if err := mysql.CheckSchema(ctx, db); err != nil {
				t.Errorf("CheckSchema: %v", err)
			}
			l := &mysql.Ledger{DB: db}
			addAll(t, l, idemsum.Addition{Client: "c", Key: "k", Number: 2}) // migration 3 was applied
		})
	}
}

// TestCheckSchema: a schema passes when idemsum_schema_migrations lists
// every migration of this release, more too (a newer release's); it is
// behind, naming what is missing and sumd migrate, when it lists fewer,
// when the table is absent, and when the bookkeeping is still an earlier
// release's.
func TestCheckSchema(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		db      func(t *testing.T) *sql.DB
		missing string // "" for a schema that passes
	}{
		{"empty database", func(t *testing.T) *sql.DB { return openDB(t, testenv.MySQL(t)) }, "0001_init.sql, 0002_deployment.sql, 0003_client_scope.sql"},
		{"earlier release, version 2", func(t *testing.T) *sql.DB { return legacyDB(t, 2) }, "0001_init.sql, 0002_deployment.sql, 0003_client_scope.sql"},
		{"earlier release, version 3", func(t *testing.T) *sql.DB { return legacyDB(t, 3) }, "0001_init.sql, 0002_deployment.sql, 0003_client_scope.sql"},
		{"this release, up to version 2", func(t *testing.T) *sql.DB {
			db := openDB(t, testenv.MySQL(t))
			if err := mysql.MigrateTo(context.Background(), db, 2); err != nil {
				t.Fatal(err)
			}
			return db
		}, "0003_client_scope.sql"},
		{"migrated", func(t *testing.T) *sql.DB { _, db := newLedger(t); return db }, ""},
		{"migrated by a newer release", func(t *testing.T) *sql.DB {
			_, db := newLedger(t)
			exec(t, db, "INSERT INTO idemsum_schema_migrations VALUES (4, '0004_newer.sql')")
			return db
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := mysql.CheckSchema(context.Background(), tc.db(t))
			switch {
			case tc.missing == "" && err != nil:
				t.Errorf("got %v, want nil", err)
			case tc.missing != "" && (!errors.Is(err, mysql.ErrSchemaBehind) || !strings.Contains(err.Error(), tc.missing) || !strings.Contains(err.Error(), "sumd migrate")):
				t.Errorf("got %v, want ErrSchemaBehind naming %s and sumd migrate", err, tc.missing)
			}
		})
	}
}

// TestPrepareMigratedChangesNoSchema: an instance that does not migrate
// (-migrate=false) on a schema an earlier release left reports
// needs-migration, with a reason naming sumd migrate, and changes
// nothing; once sumd migrate has run it is ready.
func TestPrepareMigratedChangesNoSchema(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	db := legacyDB(t, 2)
	before := schemaOf(t, db)
	var r reports
	_, err := mysql.PrepareMigrated(ctx, db, r.report)
	var se *mysql.StartError
	if !errors.As(err, &se) || se.State != mysql.StateNeedsMigration || !strings.Contains(se.Reason, "sumd migrate") {
		t.Fatalf("got %v (%#v), want a *StartError of state %q whose reason names sumd migrate", err, se, mysql.StateNeedsMigration)
	}
	if got := schemaOf(t, db); got != before {
		t.Errorf("schema changed:\ngot  %s\nwant %s", got, before)
	}
	if err := mysql.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	if id, err := mysql.PrepareMigrated(ctx, db, r.report); err != nil || len(id.ID) != 16 {
		t.Errorf("after migrating: got %+v, %v; want an identity", id, err)
	}
	if got := r.got(); len(got) != 0 {
		t.Errorf("reported %q, want nothing (no migration)", got)
	}
}
