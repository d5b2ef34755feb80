package groupcommit

// Queued returns how many additions wait for a batch, for tests.
func Queued(a *Adder) int { return len(a.in) }

// OnQueued makes a call f after each of its additions is queued (before
// the Add waits for its batch); set it before the first Add.
func OnQueued(a *Adder, f func()) { a.queued = f }
