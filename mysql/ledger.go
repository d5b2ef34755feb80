package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/go-sql-driver/mysql"

	"idemsum"
)

// Ledger is the idemsum.Ledger on MySQL: the key records (sum_ledger) and
// the total (sum_total) change in one InnoDB transaction, sent as a single
// multi-statement round trip that ends in COMMIT, so that no row lock is
// ever held while the server waits on this process.
type Ledger struct {
	DB      *sql.DB
	Now     func() time.Time // the clock stamped on key records
	Timeout time.Duration    // bound on one round trip; 0 means 10s
}

// maxRetries bounds how often Add re-sends a batch after a key in it was
// found already recorded by someone else.
const maxRetries = 8

// Add implements idemsum.Ledger. It sends the batch detached from ctx's
// cancellation: a batch cut short by a client going away would only turn a
// known outcome into an unknown one.
func (l *Ledger) Add(ctx context.Context, adds []idemsum.Addition) ([]idemsum.Result, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.timeout())
	defer cancel()
	p := plan(adds)
	for attempt := 0; ; attempt++ {
		err := l.commit(ctx, p)
		if err == nil || !retryable(err) || attempt == maxRetries {
			if err != nil {
				return nil, fmt.Errorf("add %d: %w", len(adds), err)
			}
			return p.results(), nil
		}
		if !isDuplicate(err) {
			continue // a deadlock or lock wait timeout rolled it all back
		}
		if err := l.resolveExisting(ctx, p); err != nil {
			return nil, err
		}
	}
}

// Total implements idemsum.Ledger. It refuses to answer from a server
// marked read-only, whose total may lag the primary's, and discards that
// connection.
func (l *Ledger) Total(ctx context.Context) (string, error) {
	conn, err := l.DB.Conn(ctx)
	if err != nil {
		return "", fmt.Errorf("read total: %w", err)
	}
	defer conn.Close()
	var t string
	var ro bool
	err = conn.QueryRowContext(ctx, "SELECT total, @@global.read_only OR @@global.innodb_read_only FROM sum_total WHERE id = 1").Scan(&t, &ro)
	switch {
	case err != nil:
		return "", fmt.Errorf("read total: %w", err)
	case ro:
		discard(conn)
		return "", fmt.Errorf("read total: %w", errReadOnly)
	}
	return t, nil
}

func (l *Ledger) timeout() time.Duration {
	if l.Timeout > 0 {
		return l.Timeout
	}
	return 10 * time.Second
}

func (l *Ledger) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

// commit sends p's pending additions as one transaction and records the
// total after it. On error it rolls back on the same connection.
func (l *Ledger) commit(ctx context.Context, p *batch) error {
	q, args := p.sql(l.now().UnixMilli())
	if q == "" {
		return nil
	}
	conn, err := l.DB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	total, err := lastValue(ctx, conn, q, args)
	if err != nil {
		rollback(ctx, conn)
		if readOnly(err) {
			discard(conn) // a replica now: the next dial may reach the new primary
		}
		return err
	}
	return p.committed(total)
}

// lastValue runs a multi-statement query and returns the single value of
// its last result set.
func lastValue(ctx context.Context, conn *sql.Conn, q string, args []any) (string, error) {
	rows, err := conn.QueryContext(ctx, q, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var v sql.NullString
	for {
		for rows.Next() {
			if err := rows.Scan(&v); err != nil {
				return "", err
			}
		}
		if !rows.NextResultSet() {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	if !v.Valid {
		return "", errors.New("batch returned no total")
	}
	return v.String, nil
}

// rollback ends a transaction that a failed batch may have left open. If
// that fails too, the connection is discarded rather than reused.
func rollback(ctx context.Context, conn *sql.Conn) {
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		conn.Raw(func(any) error { return driverBadConn })
	}
}

// resolveExisting looks up which pending keys are recorded already and
// turns them into Existing results, so the rest can be sent again.
func (l *Ledger) resolveExisting(ctx context.Context, p *batch) error {
	keys := p.pendingKeys()
	if len(keys) == 0 {
		return nil
	}
	q := "SELECT idem_key, number, total, created_ms FROM sum_ledger WHERE idem_key IN (" + placeholders(len(keys)) + ")"
	rows, err := l.DB.QueryContext(ctx, q, keys...)
	if err != nil {
		return fmt.Errorf("look up existing keys: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			key     []byte
			number  uint64
			total   string
			created int64
		)
		if err := rows.Scan(&key, &number, &total, &created); err != nil {
			return fmt.Errorf("scan existing key: %w", err)
		}
		p.existing(string(key), number, total, created)
	}
	return rows.Err()
}

// retryable reports errors after which the whole batch was rolled back and
// may simply be sent again: a duplicate key (resolved first), a deadlock
// (1213) or a lock wait timeout (1205).
func retryable(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1062 || me.Number == 1213 || me.Number == 1205)
}

// isDuplicate reports MySQL's ER_DUP_ENTRY: a key recorded concurrently.
func isDuplicate(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1062
}
