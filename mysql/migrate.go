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
// of instances starting at the same moment.
const lockName = "idemsum.migrate"

// Migrate brings the schema up to date. Several instances may call it at
// once: a named lock lets one migrate while the others wait, and every
// migration is written to be safe to run again (IF NOT EXISTS, or a first
// line "-- applied-if: <query>" whose non-zero answer means the change is
// already made, for DDL that MySQL 8 has no IF NOT EXISTS for), so a
// migration cut short by a crash is simply re-run.
func Migrate(ctx context.Context, db *sql.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 60)", lockName).Scan(&got); err != nil || got.Int64 != 1 {
		return fmt.Errorf("migrate: take lock %s: %v (got %v)", lockName, err, got)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "DO RELEASE_LOCK(?)", lockName)
	return migrate(ctx, conn, -1)
}

// migrate applies the migrations up to version upTo (all when negative).
func migrate(ctx context.Context, conn *sql.Conn, upTo int) error {
	const ddl = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INT NOT NULL PRIMARY KEY,
  name VARCHAR(255) NOT NULL
) ENGINE=InnoDB`
	if _, err := conn.ExecContext(ctx, ddl); err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		if upTo >= 0 && versionOf(name) > upTo {
			break
		}
		if err := apply(ctx, conn, name); err != nil {
			return fmt.Errorf("migrate %s: %w", name, err)
		}
	}
	return nil
}

// apply runs one migration file unless schema_migrations lists it.
func apply(ctx context.Context, conn *sql.Conn, name string) error {
	base := strings.TrimPrefix(name, "migrations/")
	version := versionOf(name)
	if version < 0 {
		return fmt.Errorf("file name %q needs a numeric prefix", base)
	}
	var n int
	err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations WHERE version = ?", version).Scan(&n)
	if err != nil || n > 0 {
		return err
	}
	body, err := migrations.ReadFile(name)
	if err != nil {
		return err
	}
	done, err := alreadyApplied(ctx, conn, string(body))
	if err != nil {
		return err
	}
	if !done {
		if _, err := conn.ExecContext(ctx, string(body)); err != nil {
			return err
		}
	}
	_, err = conn.ExecContext(ctx, "INSERT INTO schema_migrations (version, name) VALUES (?, ?)", version, base)
	return err
}

// appliedIf is the first-line marker of a migration that is not safe to
// run twice: the query after it answers non-zero once the change is made.
const appliedIf = "-- applied-if: "

// alreadyApplied runs body's applied-if query, if it has one, and reports
// whether the change is already made (by a run cut short before it was
// listed in schema_migrations).
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
