package groupcommit

import "time"

// Queued returns how many additions wait for a batch, for tests.
func Queued(a *Adder) int { return len(a.in) }

// OnQueued makes a call f after each of its additions is queued (before
// the Add waits for its batch); set it before the first Add.
func OnQueued(a *Adder, f func()) { a.queued = f }

// SetClock makes a time its commits with now and wait for a fuller batch
// on after's channels; set it before the first Add.
func SetClock(a *Adder, now func() time.Time, after func(time.Duration) <-chan time.Time) {
	a.now, a.after = now, after
}

// Shape returns the limit and wait of the next batch, formed while the
// flushers are busy or idle, for tests.
func Shape(a *Adder, isBusy bool) (size, bytes int, wait time.Duration) {
	mode := idle
	if isBusy {
		mode = busy
	}
	sh := a.shape(mode)
	return sh.size, sh.bytes, sh.wait
}

// OnWaiting makes a call f when its loop, holding an addition, finds every
// flusher busy and waits for one; set it before the first Add.
func OnWaiting(a *Adder, f func()) { a.waiting = f }

// SetLastSize sets the additions of its last batch, as if it formed
// under load, for tests of shape.
func SetLastSize(a *Adder, n int) { a.lastSize.Store(int64(n)) }
