package mysql_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/idemsum/idemsum"
	"github.com/idemsum/idemsum/internal/testenv"
	"github.com/idemsum/idemsum/mysql"
)

// TestAddErrorSaysWhetherNothingWasAdded: Ledger.Add's error has the code
// EUNAVAILABLE exactly when nothing of the batch can have committed —
// nothing was sent, or MySQL answered that it rolled the batch back — and
// otherwise (the batch sent, its reply lost) the outcome is unknown. Each
// case checks the total afterwards: an EUNAVAILABLE batch changed
// nothing.
func TestAddErrorSaysWhetherNothingWasAdded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// fail makes l's next Add fail; l has key "old" recorded.
		fail      func(t *testing.T, dsn string, l *mysql.Ledger) *mysql.Ledger
		wantCode  string
		wantAdded bool // whether the batch in fact committed
	}{
		{"pool closed", func(t *testing.T, dsn string, _ *mysql.Ledger) *mysql.Ledger {
			closed := openDB(t, dsn)
			closed.Close()
			return &mysql.Ledger{DB: closed}
		}, idemsum.EUNAVAILABLE, false},
		{"connection refused", func(t *testing.T, _ string, _ *mysql.Ledger) *mysql.Ledger {
			db, err := mysql.New("root@tcp(127.0.0.1:1)/x?timeout=1s", 1)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return &mysql.Ledger{DB: db}
		}, idemsum.EUNAVAILABLE, false},
		{"stale connection found before sending", func(t *testing.T, dsn string, _ *mysql.Ledger) *mysql.Ledger {
			return &mysql.Ledger{DB: faultDB(t, dsn, func(q string) (error, error) {
				if strings.HasSuffix(q, "COMMIT") {
					return driver.ErrBadConn, nil
				}
				return nil, nil
			})}
		}, idemsum.EUNAVAILABLE, false},
		{"read-only transaction", func(t *testing.T, dsn string, _ *mysql.Ledger) *mysql.Ledger {
			return &mysql.Ledger{DB: openDB(t, withParam(t, dsn, "tx_read_only", "1"))}
		}, idemsum.EUNAVAILABLE, false},
		{"lock conflicts exhausted", func(t *testing.T, dsn string, l *mysql.Ledger) *mysql.Ledger {
			holdTotalRow(t, l.DB)
			return &mysql.Ledger{DB: openDB(t, withParam(t, dsn, "innodb_lock_wait_timeout", "0"))}
		}, idemsum.EUNAVAILABLE, false},
		{"look-up of a duplicate key fails", func(t *testing.T, dsn string, _ *mysql.Ledger) *mysql.Ledger {
			return &mysql.Ledger{DB: faultDB(t, dsn, func(q string) (error, error) {
				if strings.HasPrefix(q, "SELECT client, idem_key") {
					return errors.New("look-up failed"), nil
				}
				return nil, nil
			})}
		}, idemsum.EUNAVAILABLE, false},
		{"reply lost after COMMIT", func(t *testing.T, dsn string, _ *mysql.Ledger) *mysql.Ledger {
			return &mysql.Ledger{DB: faultDB(t, dsn, func(q string) (error, error) {
				if strings.HasSuffix(q, "COMMIT") {
					return nil, gomysql.ErrInvalidConn
				}
				return nil, nil
			})}
		}, idemsum.EUNKNOWN, true},
		{"timeout while the batch waits", func(t *testing.T, dsn string, l *mysql.Ledger) *mysql.Ledger {
			holdTotalRow(t, l.DB)
			// openDB has connected (Ping), so the deadline falls on the batch.
			return &mysql.Ledger{DB: openDB(t, dsn), Timeout: 500 * time.Millisecond}
		}, idemsum.EUNKNOWN, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dsn := testenv.MySQL(t)
			l := &mysql.Ledger{DB: openDB(t, dsn)}
			if err := mysql.Migrate(context.Background(), l.DB); err != nil {
				t.Fatal(err)
			}
			addAll(t, l, idemsum.Addition{Key: "old", Number: 1})
			failing := tc.fail(t, dsn, l)
			res, err := failing.Add(context.Background(), []idemsum.Addition{{Key: "new", Number: 5}, {Key: "old", Number: 1}, {Number: 7}})
			if err == nil {
				t.Fatalf("Add: got %+v, want an error", res)
			}
			if got := idemsum.ErrorCode(err); got != tc.wantCode {
				t.Errorf("ErrorCode(%v): got %q, want %q", err, got, tc.wantCode)
			}
			if got := idemsum.ErrorMessage(err); strings.Contains(got, "127.0.0.1") {
				t.Errorf("ErrorMessage: got %q, want no internal detail", got)
			}
			want := "1"
			if tc.wantAdded {
				want = "13"
			}
			if got := eventualTotal(t, l, want); got != want {
				t.Errorf("total after the failed Add: got %s, want %s", got, want)
			}
		})
	}
}

// eventualTotal reads l's total until it is want or 10 s pass (a batch
// whose connection was cut rolls back when the server notices), and
// returns the last one read.
func eventualTotal(tb testing.TB, l *mysql.Ledger, want string) string {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := totalOf(tb, l)
		if got == want || time.Now().After(deadline) {
			return got
		}
		time.Sleep(20 * time.Millisecond) // polling MySQL, not synchronising goroutines
	}
}

// holdTotalRow locks sum_total's row in a transaction left open until the
// test ends, so that every batch waits on it.
func holdTotalRow(tb testing.TB, db *sql.DB) {
	tb.Helper()
	tx, err := db.Begin()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { tx.Rollback() })
	var total string
	if err := tx.QueryRow("SELECT total FROM sum_total WHERE id = 1 FOR UPDATE").Scan(&total); err != nil {
		tb.Fatal(err)
	}
}

// withParam returns dsn with the session variable name set to value.
func withParam(tb testing.TB, dsn, name, value string) string {
	tb.Helper()
	cfg, err := gomysql.ParseDSN(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params[name] = value
	return cfg.FormatDSN()
}

// faultDB is a pool over dsn whose queries go through fault: before, when
// not nil, fails the query without sending it; after, when not nil, lets
// the query run to its end (every result set read) and then fails it, as
// a reply lost on the way would.
func faultDB(tb testing.TB, dsn string, fault func(q string) (before, after error)) *sql.DB {
	tb.Helper()
	db, err := mysql.NewWith(dsn, 4, func(c driver.Connector) *sql.DB {
		return sql.OpenDB(faultConnector{c, fault})
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

type faultConnector struct {
	driver.Connector
	fault func(string) (error, error)
}

func (c faultConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return faultConn{conn.(fullConn), c.fault}, nil
}

// fullConn is what go-sql-driver's connections implement.
type fullConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
	driver.NamedValueChecker
}

type faultConn struct {
	fullConn
	fault func(string) (error, error)
}

func (c faultConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	before, after := c.fault(q)
	if before != nil {
		return nil, before
	}
	rows, err := c.fullConn.QueryContext(ctx, q, args)
	if err != nil || after == nil {
		return rows, err
	}
	defer rows.Close()
	if err := drain(rows); err != nil {
		return nil, err
	}
	return nil, after
}

// drain reads every row of every result set of rows.
func drain(rows driver.Rows) error {
	dest := make([]driver.Value, len(rows.Columns()))
	for {
		err := rows.Next(dest)
		if err == nil {
			continue
		}
		if err != io.EOF {
			return err
		}
		next, ok := rows.(driver.RowsNextResultSet)
		if !ok || !next.HasNextResultSet() {
			return nil
		}
		if err := next.NextResultSet(); err != nil {
			return err
		}
		dest = make([]driver.Value, len(rows.Columns()))
	}
}
