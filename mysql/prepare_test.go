package mysql_test

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/idemsum/idemsum/internal/testenv"
	"github.com/idemsum/idemsum/mysql"
)

// reports collects what Prepare tells its report func.
type reports struct {
	mu     sync.Mutex
	states []string
}

func (r *reports) report(state, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.states = append(r.states, state)
}

func (r *reports) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.states)
}

// TestPrepareNamesWhatKeepsMySQLFromStarting: each failure of a start-up
// attempt is a *StartError whose State says which step failed, with a
// reason for operators; a database that can be prepared gives the
// deployment's identity, after "migrating" was reported.
func TestPrepareNamesWhatKeepsMySQLFromStarting(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		dsn     func(tb testing.TB) string
		spoil   func(t *testing.T, db *sql.DB)
		want    string // the StartError's State, "" for success
		reports []string
	}{
		{"ready", testenv.MySQL, nil, "", []string{mysql.StateMigrating}},
		{"unreachable", func(tb testing.TB) string { return "root@tcp(" + closedAddr(tb) + ")/" }, nil, mysql.StateDown, nil},
		{"migration fails", testenv.MySQL, func(t *testing.T, db *sql.DB) {
			exec(t, db, "CREATE TABLE idemsum_schema_migrations (unexpected INT)")
		}, mysql.StateNotMigrated, []string{mysql.StateMigrating}},
		{"malformed identity row", testenv.MySQL, func(t *testing.T, db *sql.DB) {
			if _, err := mysql.Prepare(context.Background(), db, func(string, string) {}); err != nil {
				t.Fatal(err)
			}
			exec(t, db, "UPDATE sum_deployment SET deployment_id = 'altered' WHERE id = 1")
		}, mysql.StateBadIdentity, []string{mysql.StateMigrating}},
		{"no identity table", testenv.MySQL, func(t *testing.T, db *sql.DB) {
			if err := mysql.Migrate(context.Background(), db); err != nil {
				t.Fatal(err)
			}
			exec(t, db, "DROP TABLE sum_deployment")
		}, mysql.StateNoIdentity, []string{mysql.StateMigrating}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db, err := mysql.New(tc.dsn(t), 2)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if tc.spoil != nil {
				tc.spoil(t, db)
			}
			var r reports
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			id, err := mysql.Prepare(ctx, db, r.report)
			var se *mysql.StartError
			switch {
			case tc.want == "" && (err != nil || len(id.ID) != 16):
				t.Fatalf("got %+v, %v; want an identity", id, err)
			case tc.want != "" && (!errors.As(err, &se) || se.State != tc.want || se.Reason == ""):
				t.Fatalf("got %v (%#v); want a *StartError of state %q with a reason", err, se, tc.want)
			}
			if got := r.got(); !slices.Equal(got, tc.reports) {
				t.Errorf("reported %q, want %q", got, tc.reports)
			}
		})
	}
}

// TestPrepareRetryingWaitsForMySQL: while an attempt fails, its state is
// reported and Prepare is tried again until it succeeds; a cancelled
// context ends the retries with its error.
func TestPrepareRetryingWaitsForMySQL(t *testing.T) {
	t.Parallel()
	db, err := mysql.New(testenv.MySQL(t), 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	exec(t, db, "CREATE TABLE idemsum_schema_migrations (unexpected INT)")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var r reports
	done := make(chan error, 1)
	go func() {
		_, err := mysql.PrepareRetrying(context.Background(), db, true, log, r.report)
		done <- err
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !slices.Contains(r.got(), mysql.StateNotMigrated) {
		if time.Now().After(deadline) {
			t.Fatalf("reported %q within 30s, want %q", r.got(), mysql.StateNotMigrated)
		}
		time.Sleep(10 * time.Millisecond)
	}
	exec(t, db, "DROP TABLE idemsum_schema_migrations")
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("PrepareRetrying once the cause is gone: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("PrepareRetrying did not succeed within 30s of the cause going away")
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	down, err := mysql.New("root@tcp("+closedAddr(t)+")/", 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { down.Close() })
	if _, err := mysql.PrepareRetrying(ctx, down, true, log, r.report); !errors.Is(err, context.Canceled) {
		t.Errorf("with a cancelled context: got %v, want context.Canceled", err)
	}
}

func exec(tb testing.TB, db *sql.DB, q string) {
	tb.Helper()
	if _, err := db.Exec(q); err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
}
