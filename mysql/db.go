// Package mysql stores the idemsum total and its ledger of keyed additions
// in MySQL/InnoDB: the connection pool (db.go), the schema and its
// migrations (migrate.go), the deployment's identity (identity.go), the
// transaction that records keys and updates the total (ledger.go, planned
// in txplan.go), the purge of expired keys and the rule of how long they
// are kept (retention.go), what a read-only server means (readonly.go),
// /readyz's check (ready.go), the start-up preparation with its retries
// (prepare.go) and the ledger's metrics (metrics.go). It uses only SQL
// that MySQL 8 and MariaDB 10.11 both accept, and no stored routines,
// triggers or events.
package mysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Open is New and a check that MySQL answers.
func Open(ctx context.Context, dsn string, maxConns int) (*sql.DB, error) {
	db, err := New(dsn, maxConns)
	if err != nil {
		return nil, err
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("ping mysql: %w", err)
	}
	return db, nil
}

// New returns a pool for the DSN (go-sql-driver format) of at most
// maxConns connections, without connecting yet; only a malformed DSN is
// an error. It turns on what the ledger needs: multi-statement round trips
// with client-side interpolation, strict SQL mode so that nothing is
// silently truncated, and a 2 s lock_wait_timeout; the DSN may set either.
func New(dsn string, maxConns int) (*sql.DB, error) {
	return NewWith(dsn, maxConns, sql.OpenDB)
}

// NewWith is New with open in place of sql.OpenDB, such as a tracing
// wrapper of the connector.
func NewWith(dsn string, maxConns int, open func(driver.Connector) *sql.DB) (*sql.DB, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse mysql dsn: %w", err)
	}
	cfg.MultiStatements = true
	cfg.InterpolateParams = true
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	if _, ok := cfg.Params["sql_mode"]; !ok {
		cfg.Params["sql_mode"] = "'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'"
	}
	if _, ok := cfg.Params["lock_wait_timeout"]; !ok {
		// A metadata-lock wait (e.g. behind SET GLOBAL read_only=ON during a
		// switchover, which under load can otherwise stall every write for
		// the whole round-trip timeout) gives up after 2 s: a 503, retried.
		cfg.Params["lock_wait_timeout"] = "2"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 3 * time.Second
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("mysql connector: %w", err)
	}
	db := open(conn)
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	db.SetConnMaxLifetime(5 * time.Minute)
	return db, nil
}
