package mysql

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations/*.sql
var migrations embed.FS

// lockName is the MySQL named lock (GET_LOCK) that serialises migrations
// of instances starting at the same moment. Every release takes the same
// lock, so a migration of this release never meets one of an older
// release's instances starting beside it (docs/design.md#schema-bookkeeping).
const lockName = "idemsum.migrate"

// Table is the bookkeeping table: one row (version, name) per applied
// migration. Releases before it kept the rows in schema_migrations, the
// name golang-migrate uses for its own (version, dirty) table
// (docs/design.md#schema-bookkeeping).
const Table = "idemsum_schema_migrations"

// legacyTable is where releases before Table kept their bookkeeping.
const legacyTable = "schema_migrations"

// Report is what a migration did: the migrations it applied (file
// names, in order), how many rows of an earlier release's bookkeeping
// it copied, and the highest version the schema now lists.
type Report struct {
	Applied []string
	Adopted int64
	Version int
}

// Migrate brings the schema up to date. Several instances may call it at
// once: a named lock lets one migrate while the others wait, and every
// migration is written to be safe to run again (IF NOT EXISTS, or a first
// line "-- applied-if: <query>" whose non-zero answer means the change is
// already made, for DDL that MySQL 8 has no IF NOT EXISTS for), so a
// migration cut short by a crash is simply re-run.
func Migrate(ctx context.Context, db *sql.DB) error {
	_, err := MigrateReport(ctx, db)
	return err
}

// MigrateReport is Migrate, and says what it did.
func MigrateReport(ctx context.Context, db *sql.DB) (Report, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()
	var got sql.NullInt64
	switch err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 60)", lockName).Scan(&got); {
	case err != nil:
		return Report{}, fmt.Errorf("migrate: take lock %s: %w", lockName, err)
	case got.Int64 != 1:
		return Report{}, fmt.Errorf("migrate: another migration held the lock %s for 60 s; try again once it is done", lockName)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "DO RELEASE_LOCK(?)", lockName)
	return migrate(ctx, conn, -1)
}

// migrate applies the migrations up to version upTo (all when negative).
func migrate(ctx context.Context, conn *sql.Conn, upTo int) (Report, error) {
	var r Report
	const ddl = `CREATE TABLE IF NOT EXISTS ` + Table + ` (
  version INT NOT NULL PRIMARY KEY,
  name VARCHAR(255) NOT NULL
) ENGINE=InnoDB`
	if _, err := conn.ExecContext(ctx, ddl); err != nil {
		return r, fmt.Errorf("migrate: create %s: %w", Table, err)
	}
	adopted, err := adopt(ctx, conn)
	if err != nil {
		return r, fmt.Errorf("migrate: copy the rows of %s: %w", legacyTable, err)
	}
	r.Adopted = adopted
	for _, name := range files() {
		if upTo >= 0 && versionOf(name) > upTo {
			break
		}
		done, err := apply(ctx, conn, name)
		if err != nil {
			return r, fmt.Errorf("migrate %s: %w", name, err)
		}
		if done {
			r.Applied = append(r.Applied, strings.TrimPrefix(name, "migrations/"))
		}
	}
	err = conn.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM "+Table).Scan(&r.Version)
	return r, err
}

// adopt copies the rows of an earlier release's bookkeeping table into
// Table, and returns how many it copied. It copies rather than renames,
// and leaves the old table in place: instances of the earlier release
// read it when they start, during a rolling upgrade and after it. A
// schema_migrations table that is not ours (golang-migrate's has a dirty
// column and no name) is neither read nor touched. Copying again copies
// nothing, so a migration cut short is simply run again.
func adopt(ctx context.Context, conn *sql.Conn) (int64, error) {
	ours, err := legacyIsOurs(ctx, conn)
	if err != nil || !ours {
		return 0, err
	}
	// Only rows naming one of this release's own files are copied: every
	// earlier release knew a subset of them, and a row of anyone else's
	// table of the same shape cannot mark a migration of ours as applied.
	var known []string
	var args []any
	for _, name := range files() {
		known = append(known, "(?, ?)")
		args = append(args, versionOf(name), strings.TrimPrefix(name, "migrations/"))
	}
	res, err := conn.ExecContext(ctx, `INSERT INTO `+Table+` (version, name)
SELECT l.version, l.name FROM `+legacyTable+` l
WHERE (l.version, l.name) IN (`+strings.Join(known, ", ")+`)
AND NOT EXISTS (SELECT 1 FROM `+Table+` t WHERE t.version = l.version)`, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// legacyIsOurs reports whether schema_migrations exists with the columns
// of an earlier release's bookkeeping (version and name, nothing else).
func legacyIsOurs(ctx context.Context, conn *sql.Conn) (bool, error) {
	var cols string
	err := conn.QueryRowContext(ctx, `SELECT COALESCE(GROUP_CONCAT(column_name ORDER BY column_name SEPARATOR ','), '')
FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ?`, legacyTable).Scan(&cols)
	return strings.EqualFold(cols, "name,version"), err
}

// files lists the embedded migrations in order.
func files() []string {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		panic(err) // the pattern is constant
	}
	sort.Strings(names)
	return names
}

// apply runs one migration file unless Table lists it, and reports
// whether it listed it now.
func apply(ctx context.Context, conn *sql.Conn, name string) (bool, error) {
	base := strings.TrimPrefix(name, "migrations/")
	version := versionOf(name)
	if version < 0 {
		return false, fmt.Errorf("file name %q needs a numeric prefix", base)
	}
	var n int
	err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+Table+" WHERE version = ?", version).Scan(&n)
	if err != nil || n > 0 {
		return false, err
	}
	body, err := migrations.ReadFile(name)
	if err != nil {
		return false, err
	}
	done, err := alreadyApplied(ctx, conn, string(body))
	if err != nil {
		return false, err
	}
	if !done {
		if _, err := conn.ExecContext(ctx, string(body)); err != nil {
			return false, err
		}
	}
	_, err = conn.ExecContext(ctx, "INSERT INTO "+Table+" (version, name) VALUES (?, ?)", version, base)
	return err == nil, err
}

// appliedIf is the first-line marker of a migration that is not safe to
// run twice: the query after it answers non-zero once the change is made.
const appliedIf = "-- applied-if: "

// alreadyApplied runs body's applied-if query, if it has one, and reports
// whether the change is already made (by a run cut short before it was
// listed in Table).
func alreadyApplied(ctx context.Context, conn *sql.Conn, body string) (bool, error) {
	first, _, _ := strings.Cut(body, "\n")
	q, ok := strings.CutPrefix(first, appliedIf)
	if !ok {
		return false, nil
	}
	var n int
	if err := conn.QueryRowContext(ctx, q).Scan(&n); err != nil {
		return false, fmt.Errorf("applied-if: %w", err)
	}
	return n > 0, nil
}

// versionOf is the numeric prefix of a migration file's name, or -1.
func versionOf(name string) int {
	v, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(name, "migrations/"), "_", 2)[0])
	if err != nil {
		return -1
	}
	return v
}
