package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// ErrSchemaBehind is CheckSchema's error (wrapped) when the schema lacks
// a migration this release needs.
var ErrSchemaBehind = errors.New("the schema is older than this release needs")

// CheckSchema checks, changing nothing, that the schema has every
// migration of this release: Table lists each of them. A schema that
// lists more, migrated by a newer release, passes: every migration is
// written to run beside the release before it
// (docs/operations.md#upgrades-and-rolling-restarts). A schema an earlier
// release migrated, whose bookkeeping is still in schema_migrations, is
// behind: its bookkeeping moves with the next migration. The error
// wraps ErrSchemaBehind and names what is missing. It needs only SELECT
// on Table, so an account without DDL rights can run it.
func CheckSchema(ctx context.Context, db *sql.DB) error {
	have, err := listed(ctx, db)
	if err != nil {
		return fmt.Errorf("check schema: %w", err)
	}
	var missing []string
	for _, name := range files() {
		if !have[versionOf(name)] {
			missing = append(missing, strings.TrimPrefix(name, "migrations/"))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s does not list %s; run sumd migrate (docs/operations.md#migrations)",
			ErrSchemaBehind, Table, strings.Join(missing, ", "))
	}
	return nil
}

// listed returns the versions Table lists; none if it does not exist.
func listed(ctx context.Context, db *sql.DB) (map[int]bool, error) {
	have := map[int]bool{}
	rows, err := db.QueryContext(ctx, "SELECT version FROM "+Table)
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == 1146 { // ER_NO_SUCH_TABLE
		return have, nil
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		have[v] = true
	}
	return have, rows.Err()
}
