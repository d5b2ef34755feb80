package mysql

import (
	"context"
	"database/sql"
)

// MigrateTo applies the migrations up to version only: a database as an
// earlier release left it.
func MigrateTo(ctx context.Context, db *sql.DB, version int) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = migrate(ctx, conn, version)
	return err
}
