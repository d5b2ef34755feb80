package mysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/idemsum/idemsum"
)

// Ledger is the idemsum.Ledger on MySQL: the key records (sum_ledger) and
// the total (sum_total) change in one InnoDB transaction, sent as a single
// multi-statement round trip that ends in COMMIT, so that no row lock is
// ever held while the server waits on this process.
type Ledger struct {
	DB      *sql.DB
	Now     func() time.Time // the clock stamped on key records
	Timeout time.Duration    // bound on one round trip; 0 means 10s
	Metrics *Metrics         // fence replays and purged keys; nil counts nothing
}

// maxConflicts bounds how often Add re-sends a batch that was rolled back
// without progress: by an InnoDB deadlock or lock wait timeout, or by a
// duplicate key it then could not find. A round that finds keys already
// recorded does not count: those keys leave the batch, so such rounds end
// by themselves.
const maxConflicts = 16

// Add implements idemsum.Ledger. It sends the batch detached from ctx's
// cancellation: a batch cut short by a client going away would only turn a
// known outcome into an unknown one.
//
// Its error is an idemsum.Unavailable one (nothing of the batch committed)
// when that is certain: no connection could be had, or the driver found
// its connection broken before sending (driver.ErrBadConn); MySQL refused
// the write as read-only, or rolled the batch back on lock conflicts more
// than maxConflicts times; or, after a batch rolled back on a duplicate
// key, the look-up of the recorded keys or the wait before sending again
// failed. Any other error (a connection lost or a timeout after the batch
// was sent, an error of COMMIT, a batch that returned no total) leaves the
// outcome unknown.
func (l *Ledger) Add(ctx context.Context, adds []idemsum.Addition) ([]idemsum.Result, error) {
	for _, a := range adds {
		if err := idemsum.CheckNumber(a.Number); err != nil {
			return nil, err // nothing sent: the number rule holds at the boundary too
		}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.timeout())
	defer cancel()
	p := plan(adds)
	for conflicts := 0; ; {
		err := l.commit(ctx, p)
		if err == nil {
			res := p.results()
			l.Metrics.replayed(res)
			return res, nil
		}
		if !retryable(err) {
			return nil, fmt.Errorf("add %d: %w", len(adds), err)
		}
		// The batch was rolled back: from here on, nothing was added.
		if isDuplicate(err) {
			found, rerr := l.resolveExisting(ctx, p)
			if rerr != nil {
				return nil, fmt.Errorf("add %d: %w", len(adds), idemsum.Unavailable(rerr))
			}
			if found > 0 {
				continue
			}
		}
		if conflicts++; conflicts > maxConflicts {
			return nil, fmt.Errorf("add %d: %w", len(adds), idemsum.Unavailable(fmt.Errorf("gave up after %d conflicts: %w", maxConflicts, err)))
		}
		if err := backoff(ctx, conflicts); err != nil {
			return nil, fmt.Errorf("add %d: %w", len(adds), idemsum.Unavailable(err))
		}
	}
}

// backoff waits a random time below 2^n ms (at most 64 ms) before a batch
// rolled back by a lock conflict is sent again, so that the batches that
// collided do not collide again in step.
func backoff(ctx context.Context, n int) error {
	t := time.NewTimer(time.Duration(rand.Int64N(int64(time.Millisecond) << min(n, 6))))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
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
		return "", fmt.Errorf("read total: %w", errTotalReadOnly)
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
// total after it. On error it rolls back on the same connection. Its error
// is an idemsum.Unavailable one when the batch was surely not sent (no
// connection; driver.ErrBadConn, which a driver returns only then) or was
// refused as read-only (at its first write, so COMMIT never ran).
func (l *Ledger) commit(ctx context.Context, p *txPlan) error {
	q, args := p.sql(l.now().UnixMilli())
	if q == "" {
		return nil
	}
	conn, err := l.DB.Conn(ctx)
	if err != nil {
		return idemsum.Unavailable(fmt.Errorf("get a connection: %w", err))
	}
	defer conn.Close()
	total, err := lastValue(ctx, conn, q, args)
	switch {
	case errors.Is(err, driver.ErrBadConn):
		return idemsum.Unavailable(err)
	case err != nil && readOnly(err):
		rollback(ctx, conn)
		discard(conn) // a replica now: the next dial may reach the new primary
		return idemsum.Unavailable(err)
	case err != nil:
		rollback(ctx, conn)
		return err
	}
	return p.committed(total)
}

// lastValue runs a multi-statement query and returns the last value that
// any of its result sets held, once every statement has succeeded.
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
		discard(conn)
	}
}

// resolveExisting looks up which pending keys are recorded already and
// turns them into Existing results, so the rest can be sent again; it
// returns how many it found.
func (l *Ledger) resolveExisting(ctx context.Context, p *txPlan) (int, error) {
	keys := p.pendingKeys()
	if len(keys) == 0 {
		return 0, nil
	}
	sort.Slice(keys, func(i, j int) bool { return less(keys[i], keys[j]) })
	where, args := keysWhere(keys)
	q := "SELECT client, idem_key, number, total, created_ms FROM sum_ledger WHERE " + where
	rows, err := l.DB.QueryContext(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("look up existing keys: %w", err)
	}
	defer rows.Close()
	found := 0
	for rows.Next() {
		var (
			client  []byte
			key     []byte
			number  uint64
			total   string
			created int64
		)
		if err := rows.Scan(&client, &key, &number, &total, &created); err != nil {
			return 0, fmt.Errorf("scan existing key: %w", err)
		}
		if p.existing(idemsum.KeyID{Client: string(client), Key: string(key)}, number, total, created) {
			found++
		}
	}
	return found, rows.Err()
}

// The MySQL error numbers the ledger acts on.
const (
	erDupEntry        = 1062 // ER_DUP_ENTRY: a key recorded concurrently
	erLockWaitTimeout = 1205 // ER_LOCK_WAIT_TIMEOUT: the statement (or, with innodb_rollback_on_timeout, all) rolled back
	erLockDeadlock    = 1213 // ER_LOCK_DEADLOCK: the whole transaction rolled back
)

// retryable reports errors after which the whole batch was rolled back and
// may simply be sent again: a duplicate key (resolved first), a deadlock
// or a lock wait timeout.
func retryable(err error) bool {
	n := errorNumber(err)
	return n == erDupEntry || n == erLockDeadlock || n == erLockWaitTimeout
}

// isDuplicate reports ER_DUP_ENTRY.
func isDuplicate(err error) bool { return errorNumber(err) == erDupEntry }

// errorNumber is the MySQL error number in err's chain, or 0.
func errorNumber(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}
