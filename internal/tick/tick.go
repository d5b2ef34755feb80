// Package tick runs a function at a fixed interval until a context ends:
// the loop behind sumd's log flushing, its Redis probe and its purge of
// expired keys.
package tick

import (
	"context"
	"time"
)

// Every calls f every interval until ctx is done, and returns then. The
// first call is one interval after Every starts; a call that takes longer
// than interval delays the next (ticks are dropped, never queued).
func Every(ctx context.Context, interval time.Duration, f func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}
