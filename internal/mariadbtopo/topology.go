package mariadbtopo

import (
	"context"
	"fmt"
	"testing"
)

// PairOptions configure Pair.
type PairOptions struct {
	// SemiSync selects semi-synchronous replication (wait point
	// AFTER_SYNC, a timeout of 10 minutes); otherwise it is asynchronous.
	SemiSync bool
	// Link, if set, returns the address the replica is to dial for the
	// primary's, such as a proxy's that adds latency: the network between
	// two zones.
	Link func(primaryAddr string) string
}

// Pair starts a primary and a read-only replica that replicates from it
// with GTID, and returns once the replica is connected.
func Pair(tb testing.TB, opts PairOptions) (primary, replica *Server) {
	tb.Helper()
	primary = Start(tb, "primary", Options{ServerID: 1, SemiSyncPrimary: opts.SemiSync})
	replica = Start(tb, "replica", Options{ServerID: 2, ReadOnly: true, SemiSyncReplica: opts.SemiSync})
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	addr := primary.Addr
	if opts.Link != nil {
		addr = opts.Link(addr)
	}
	if err := Replicate(ctx, primary, replica, addr); err != nil {
		tb.Fatalf("replicate: %v", err)
	}
	return primary, replica
}

// CreateApp creates database db and an account user (with password) that
// has every privilege on db and none beyond it, as an application's
// account should: no SUPER or READ_ONLY ADMIN, so read_only=ON refuses its
// writes (root's it does not). On a primary both replicate.
func (s *Server) CreateApp(ctx context.Context, db, user, password string) error {
	return s.Exec(ctx,
		"CREATE DATABASE IF NOT EXISTS "+db,
		fmt.Sprintf("CREATE USER IF NOT EXISTS '%s'@'%%' IDENTIFIED BY '%s'", user, password),
		fmt.Sprintf("GRANT ALL PRIVILEGES ON %s.* TO '%s'@'%%'", db, user),
	)
}
