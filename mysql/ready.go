package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// ErrReadOnly is Ready's error (wrapped) when MySQL answers but is marked
// read-only: a replica, or a primary being demoted.
var ErrReadOnly = errors.New("mysql is read-only")

// Ready is /readyz's check of MySQL: it answers, and it takes writes. A
// server marked read-only (read_only, or innodb_read_only) is a replica
// or a primary being demoted: not ready, with an error wrapping
// ErrReadOnly, and the connection that reached it is discarded, so that
// the pool dials the address anew, which may lead to the new primary by
// then. read_only does not stop accounts with SUPER or READ_ONLY ADMIN
// from writing; sumd's account should have neither, and either way the
// check says the server is not where writes belong.
func Ready(ctx context.Context, db *sql.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var ro, innodbRO bool
	err = conn.QueryRowContext(ctx, "SELECT @@global.read_only, @@global.innodb_read_only").Scan(&ro, &innodbRO)
	switch {
	case err != nil:
		return fmt.Errorf("check mysql: %w", err)
	case ro || innodbRO:
		discard(conn)
		return fmt.Errorf("%w (read_only=%v, innodb_read_only=%v)", ErrReadOnly, ro, innodbRO)
	}
	return nil
}
