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
// call while /readyz reads what it stores.
func PrepareRetrying(ctx context.Context, db *sql.DB, log *slog.Logger, report func(state, reason string)) (Identity, error) {
	backoff := 100 * time.Millisecond
	for {
		id, err := Prepare(ctx, db, report)
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
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		return Identity{}, &StartError{StateDown, ReasonDown, fmt.Errorf("ping mysql: %w", err)}
	}
	report(StateMigrating, "migrating the schema, or waiting for another instance's migration")
	if err := Migrate(ctx, db); err != nil {
		return Identity{}, &StartError{StateNotMigrated, "the schema migration failed; the log says why", err}
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
