package groupcommit

// Queued returns how many additions wait for a batch, for tests.
func Queued(a *Adder) int { return len(a.in) }
