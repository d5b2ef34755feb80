package mysql

import (
	"context"
	"fmt"
	"time"

	"idemsum/internal/tick"
)

// Purge deletes key records older than ttl (by the Ledger's clock), at
// most batch rows per statement, until none is left or ctx is done, and
// returns how many it deleted. It never touches the total. Several
// instances may purge at once: each DELETE is one short autocommit
// statement, and a row deleted by one is simply not found by the others.
// A purged key can be used again as a new key.
func (l *Ledger) Purge(ctx context.Context, ttl time.Duration, batch int) (int64, error) {
	cutoff := l.now().Add(-ttl).UnixMilli()
	var total int64
	for ctx.Err() == nil {
		res, err := l.DB.ExecContext(ctx,
			"DELETE FROM sum_ledger WHERE created_ms < ? ORDER BY created_ms LIMIT ?", cutoff, batch)
		if err != nil {
			return total, fmt.Errorf("purge keys: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("purge keys: %w", err)
		}
		total += n
		if n < int64(batch) {
			return total, nil
		}
	}
	return total, ctx.Err()
}

// PurgeEvery runs Purge every interval until ctx is done, reporting each
// run to report (deleted rows, error).
func (l *Ledger) PurgeEvery(ctx context.Context, interval, ttl time.Duration, batch int, report func(int64, error)) {
	tick.Every(ctx, interval, func() {
		n, err := l.Purge(ctx, ttl, batch)
		if report != nil && ctx.Err() == nil {
			report(n, err)
		}
	})
}
