package client

import (
	"errors"
	"fmt"
	"strings"
)

// errKeyless stops an addition without a key that may have been made.
var errKeyless = errors.New("an addition without a key is not retried once it may have been made")

// gaveUp is the error of a call that stopped retrying.
type gaveUp struct {
	attempts int
	why      error // the context's error, context.DeadlineExceeded (it would pass first), errAttempts or errKeyless
	last     error // the last attempt's failure
	answer   error // the last failure the service answered, if not last (nil: none)
	unknown  bool  // an attempt may have added: wraps ErrOutcomeUnknown
}

func (g *gaveUp) Error() string {
	var b strings.Builder
	if g.unknown {
		b.WriteString(ErrOutcomeUnknown.Error() + ": ")
	}
	fmt.Fprintf(&b, "client: gave up after %d attempts: %v; last: %v", g.attempts, g.why, g.last)
	if g.answer != nil {
		fmt.Fprintf(&b, "; last answer: %v", g.answer)
	}
	return b.String()
}

func (g *gaveUp) Unwrap() []error {
	errs := []error{g.why, g.last}
	if g.answer != nil {
		errs = append(errs, g.answer)
	}
	if g.unknown {
		errs = append(errs, ErrOutcomeUnknown)
	}
	return errs
}

// unknown wraps a final answer to a call an earlier attempt of which may
// have added.
type unknown struct{ err error }

func (u *unknown) Error() string {
	return ErrOutcomeUnknown.Error() + " (an earlier attempt): " + u.err.Error()
}
func (u *unknown) Unwrap() []error { return []error{ErrOutcomeUnknown, u.err} }
