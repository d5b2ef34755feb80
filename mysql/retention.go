package mysql

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/idemsum/idemsum/internal/tick"
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

// Retention is how long MySQL keeps a completed key: its TTL plus twice
// the largest clock difference between instances (docs/design.md#retention).
// An instance stamps a key's record with its own clock and caches it for
// keyTTL; another purges by its own clock. With clocks at most
// maxClockSkew from true time, a record cached by an instance whose clock
// is slow has expired before an instance whose clock is fast purges the
// row, so Redis never holds a record that MySQL has forgotten.
func Retention(keyTTL, maxClockSkew time.Duration) time.Duration {
	return keyTTL + 2*maxClockSkew
}

// PurgeEvery runs Purge every interval until ctx is done. It counts the
// keys each run deletes in idemsum_keys_purged_total (when l.Metrics is
// set) and logs a run that fails to log (nil: no log); a run cut short
// by ctx is neither counted nor logged.
func (l *Ledger) PurgeEvery(ctx context.Context, interval, ttl time.Duration, batch int, log *slog.Logger) {
	tick.Every(ctx, interval, func() {
		n, err := l.Purge(ctx, ttl, batch)
		if ctx.Err() != nil {
			return
		}
		l.Metrics.purged(n)
		if err != nil && log != nil {
			log.Warn("purge of expired keys failed", "err", err)
		}
	})
}
