package mariadbtopo_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/idemsum/idemsum/internal/mariadbtopo"
)

// TestPromoteKeepsAcknowledgedCommits: on a semi-synchronous pair every
// commit is acknowledged by the replica (none made asynchronously), the
// replica refuses the application's writes while it is one (error 1290),
// and once the primary is killed and the replica promoted every committed
// row is on it and it takes writes.
func TestPromoteKeepsAcknowledgedCommits(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	primary, replica := mariadbtopo.Pair(t, mariadbtopo.PairOptions{SemiSync: true})
	if err := primary.CreateApp(ctx, "app", "app", "pw"); err != nil {
		t.Fatal(err)
	}
	onPrimary := open(t, primary.DSN("app", "pw", "app"))
	if _, err := onPrimary.ExecContext(ctx, "CREATE TABLE t (id INT PRIMARY KEY) ENGINE=InnoDB"); err != nil {
		t.Fatal(err)
	}
	const rows = 50
	for i := range rows {
		if _, err := onPrimary.ExecContext(ctx, "INSERT INTO t VALUES (?)", i); err != nil {
			t.Fatal(err)
		}
	}
	ss, err := primary.SemiSync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !ss.On || ss.NoTx != 0 || ss.YesTx < rows || ss.Clients != 1 {
		t.Errorf("semi-sync status %+v, want on, 1 client, ≥ %d acknowledged and 0 unacknowledged commits", ss, rows)
	}
	if err := mariadbtopo.CaughtUp(ctx, primary, replica); err != nil {
		t.Fatal(err)
	}
	onReplica := open(t, replica.DSN("app", "pw", "app"))
	_, err = onReplica.ExecContext(ctx, "INSERT INTO t VALUES (-1)")
	if me := (*mysql.MySQLError)(nil); !errors.As(err, &me) || me.Number != 1290 {
		t.Errorf("insert on the read-only replica: got %v, want error 1290", err)
	}

	primary.Kill()
	p, err := mariadbtopo.Promote(ctx, replica)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("promoted in %v: received %s, applied %s", p.Took, p.Received, p.Applied)
	if last, err := primary.LastGTID(ctx); err != nil || last != p.Applied {
		t.Errorf("the dead primary's last transaction: got %s, %v; want %s, the replica's", last, err, p.Applied)
	}
	var n int
	if err := onReplica.QueryRowContext(ctx, "SELECT COUNT(*) FROM t").Scan(&n); err != nil || n != rows {
		t.Errorf("rows on the promoted replica: got %d, %v, want %d", n, err, rows)
	}
	if _, err := onReplica.ExecContext(ctx, "INSERT INTO t VALUES (-1)"); err != nil {
		t.Errorf("insert on the promoted replica: %v", err)
	}
	if st, err := replica.ReplicaStatus(ctx); err != nil || len(st) != 0 {
		t.Errorf("replica status after promotion: %v, %v; want none", st, err)
	}
}

// TestAsyncPairReplicates: an asynchronous pair replicates, and its
// primary never waits for the replica.
func TestAsyncPairReplicates(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	primary, replica := mariadbtopo.Pair(t, mariadbtopo.PairOptions{})
	if err := primary.Exec(ctx, "CREATE DATABASE a", "CREATE TABLE a.t (id INT PRIMARY KEY)", "INSERT INTO a.t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	if err := mariadbtopo.CaughtUp(ctx, primary, replica); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := replica.Root().QueryRowContext(ctx, "SELECT COUNT(*) FROM a.t").Scan(&n); err != nil || n != 1 {
		t.Errorf("rows on the replica: got %d, %v, want 1", n, err)
	}
	if ss, err := primary.SemiSync(ctx); err != nil || ss.On || ss.YesTx != 0 {
		t.Errorf("semi-sync status %+v, %v; want off", ss, err)
	}
}

func open(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
