// Package mysqlstore is a durable idempotency.Store on MySQL or MariaDB
// (InnoDB) through database/sql and the github.com/go-sql-driver/mysql
// driver.
//
// One row per key holds both its claim and its record. Every operation is
// one autocommit statement, or an UPDATE followed by an INSERT, so no row
// lock outlives a statement and none is held while Go code runs. Times are
// unix milliseconds read from the injected clock, never the server's NOW(),
// so expiry follows the clock the Store was given.
package mysqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrDuration reports a non-positive lease or ttl: the Store never writes
// a claim or record without an expiry.
var ErrDuration = errors.New("mysqlstore: lease and ttl must be positive")

// Store is an idempotency.Store in one MySQL table. It is safe for
// concurrent use by many goroutines and many processes sharing the table.
type Store struct {
	db    *sql.DB
	now   func() time.Time
	table string
	q     queries
}

// New returns a Store that keeps its rows in table of db and reads the time
// from now; a nil now means time.Now. Call Migrate to create the table.
func New(db *sql.DB, table string, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, now: now, table: table, q: newQueries(quoteName(table))}
}

// Migrate creates the Store's table unless it exists, and adds the columns
// that a table of an earlier version lacks (records' headers, then their
// Created time; such records read without them). It is safe to run from
// several processes at once.
func (s *Store) Migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, s.q.create); err != nil {
		return fmt.Errorf("mysqlstore: migrate: %w", err)
	}
	have, err := s.columns(ctx)
	if err != nil {
		return fmt.Errorf("mysqlstore: migrate: %w", err)
	}
	for _, c := range s.q.added {
		if have[c.name] {
			continue
		}
		// Another process may add it first: its duplicate column is success.
		if _, err := s.db.ExecContext(ctx, c.add); err != nil && !mysqlErrorIs(err, errDuplicateColumn) {
			return fmt.Errorf("mysqlstore: migrate: add %s column: %w", c.name, err)
		}
	}
	return nil
}

// columns returns the names of the columns the Store's table has.
func (s *Store) columns(ctx context.Context) (map[string]bool, error) {
	rows, err := s.db.QueryContext(ctx, s.q.columns, s.table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	have := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		have[strings.ToLower(name)] = true
	}
	return have, rows.Err()
}

// DeleteExpired deletes up to limit rows whose claim and record have both
// expired, and returns how many it deleted. Expired rows are invisible and
// reused by Claim and Put, so calling it only bounds the table's size.
func (s *Store) DeleteExpired(ctx context.Context, limit int) (int64, error) {
	now := s.millis()
	var n int64
	err := retry(func() error {
		res, err := s.db.ExecContext(ctx, s.q.deleteExpired, now, now, limit)
		if err == nil {
			n, err = res.RowsAffected()
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("mysqlstore: delete expired: %w", err)
	}
	return n, nil
}

// millis returns the clock's time in unix milliseconds.
func (s *Store) millis() int64 { return s.now().UnixMilli() }

// durationMillis returns d in whole milliseconds, rounded up so that a
// positive d stays positive.
func durationMillis(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// quoteName quotes a MySQL identifier.
func quoteName(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}
