package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// The states of MySQL that a *StartError names, as /readyz tells them
// while sumd starts; Prepare reports StateMigrating while it migrates.
const (
	StateDown        = "down"         // MySQL does not answer
	StateMigrating   = "migrating"    // the schema is being migrated, here or by another instance
	StateNotMigrated = "not-migrated" // a migration failed
	StateBadIdentity = "bad-identity" // the deployment identity row is malformed (ErrBadIdentity)
	StateNoIdentity  = "no-identity"  // the deployment identity could not be created or read

	// StateNeedsMigration: sumd does not migrate (-migrate=false) and the
	// schema lacks a migration it needs (ErrSchemaBehind): sumd migrate
	// has not run yet (docs/operations.md#migrations).
	StateNeedsMigration = "needs-migration"
)

// ReasonDown is the reason of StateDown: what /readyz says of MySQL
// before the first attempt, and while it does not answer.
const ReasonDown = "MySQL does not answer"

// StartError is a failed attempt to prepare MySQL: the state it left
// MySQL in, one of the State constants, and a reason for operators,
// without addresses or secrets (Err, for the log, may have them).
type StartError struct {
	State  string
	Reason string
	Err    error
}

func (e *StartError) Error() string { return e.Err.Error() }
func (e *StartError) Unwrap() error { return e.Err }

// PrepareRetrying is Prepare until it succeeds or ctx is done, waiting
// between attempts with a capped exponential backoff (100 ms, doubling,
// at most 5 s) and logging each failure. It tells report the state and
// reason of every step and failure, for /readyz; report must be safe to
// call while /readyz reads what it stores. With migrate false it checks
// the schema instead of migrating it (PrepareMigrated), and so waits,
// not ready, until sumd migrate has run.
func PrepareRetrying(ctx context.Context, db *sql.DB, migrate bool, log *slog.Logger, report func(state, reason string)) (Identity, error) {
	backoff := 100 * time.Millisecond
	prepare := Prepare
	if !migrate {
		prepare = PrepareMigrated
	}
	for {
		id, err := prepare(ctx, db, report)
		if err == nil {
			return id, nil
		}
		if ctx.Err() != nil {
			return id, ctx.Err()
		}
		var se *StartError
		if errors.As(err, &se) {
			report(se.State, se.Reason)
		}
		log.Warn("mysql not ready; retrying", "err", err, "retry_in", backoff.String())
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return id, ctx.Err()
		case <-t.C:
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// Prepare makes one attempt, within 90 s, to make MySQL ready for the
// ledger: it pings it, migrates the schema (telling report
// StateMigrating first) and loads the deployment's Identity. Its error is
// a *StartError.
func Prepare(ctx context.Context, db *sql.DB, report func(state, reason string)) (Identity, error) {
	return prepare(ctx, db, func(ctx context.Context) error {
		report(StateMigrating, "migrating the schema, or waiting for another instance's migration")
		if err := Migrate(ctx, db); err != nil {
			return &StartError{StateNotMigrated, "the schema migration failed; the log says why", err}
		}
		return nil
	})
}

// PrepareMigrated is Prepare for a schema that sumd migrate migrates: it
// checks the schema (CheckSchema) instead of migrating it, so that it
// needs no DDL rights. A schema older than this release needs is a
// *StartError of StateNeedsMigration whose reason names sumd migrate.
// It reports no state (report is there for PrepareRetrying): a check is
// one query.
func PrepareMigrated(ctx context.Context, db *sql.DB, report func(state, reason string)) (Identity, error) {
	return prepare(ctx, db, func(ctx context.Context) error {
		err := CheckSchema(ctx, db)
		switch {
		case errors.Is(err, ErrSchemaBehind):
			return &StartError{StateNeedsMigration, "the schema is older than this release needs, and this instance does not migrate (-migrate=false): run sumd migrate", err}
		case err != nil:
			return &StartError{StateNotMigrated, "the schema could not be checked; the log says why", err}
		}
		return nil
	})
}

// prepare pings MySQL, runs schema (which returns a *StartError) and
// loads the deployment's Identity, within 90 s.
func prepare(ctx context.Context, db *sql.DB, schema func(context.Context) error) (Identity, error) {
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		return Identity{}, &StartError{StateDown, ReasonDown, fmt.Errorf("ping mysql: %w", err)}
	}
	if err := schema(ctx); err != nil {
		return Identity{}, err
	}
	id, err := LoadIdentity(ctx, db)
	switch {
	case errors.Is(err, ErrBadIdentity):
		return id, &StartError{StateBadIdentity, "the deployment identity row (sum_deployment) is malformed; sumd never replaces it: restore it", err}
	case err != nil:
		return id, &StartError{StateNoIdentity, "the deployment identity could not be created or read; the log says why", err}
	}
	return id, nil
}
