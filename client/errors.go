package client

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// The sentinels an *Error matches with errors.Is, by status. The first
// six are answers to the request itself and are never retried.
var (
	ErrInvalid      = errors.New("client: invalid input")                                    // 400
	ErrTooLarge     = errors.New("client: request body too large")                           // 413
	ErrUnsupported  = errors.New("client: unsupported media type")                           // 415
	ErrKeyReused    = errors.New("client: idempotency key already used with another number") // 422
	ErrUnauthorized = errors.New("client: no valid API token (WithToken)")                   // 401
	ErrForbidden    = errors.New("client: refused as a cross-origin request")                // 403
	ErrInFlight     = errors.New("client: idempotency key in flight")                        // 409
	ErrUnavailable  = errors.New("client: service unavailable")                              // 503
	ErrTimeout      = errors.New("client: request timeout")                                  // 408
)

// ErrOutcomeUnknown is matched (errors.Is) by the error of an addition
// that may or may not have been made: an attempt was sent and its answer
// never came (a network error, a timeout, the context's end) or was a 5xx
// that does not say nothing was added. Add never retries an addition
// without a key in that state. A keyed addition is retried until its
// context or attempts run out; if it then fails with ErrOutcomeUnknown,
// Add again with WithKey(Result.Key) to learn the outcome safely.
var ErrOutcomeUnknown = errors.New("client: outcome unknown: the number may or may not have been added")

// Error is a problem answered by the service (RFC 9457 problem+json).
type Error struct {
	Status     int           // HTTP status
	Type       string        // problem type, such as urn:idemsum:problem:key-reused
	Title      string        // the status text
	Detail     string        // what the service said
	RetryAfter time.Duration // the Retry-After header, if any
	Location   string
	Outcome    string
}

var ErrRedirected = errors.New("client: redirected")


// Error returns the status and the detail.
func (e *Error) Error() string {
	return fmt.Sprintf("idemsum: %d %s: %s", e.Status, http.StatusText(e.Status), e.Detail)
}

// Is reports whether target is the sentinel of e's status.
func (e *Error) Is(target error) bool {
	s, ok := sentinels[e.Status]
	return ok && s == target
}

var sentinels = map[int]error{
	http.StatusBadRequest:            ErrInvalid,
	http.StatusRequestEntityTooLarge: ErrTooLarge,
	http.StatusUnsupportedMediaType:  ErrUnsupported,
	http.StatusUnprocessableEntity:   ErrKeyReused,
	http.StatusUnauthorized:          ErrUnauthorized,
	http.StatusForbidden:             ErrForbidden,
	http.StatusConflict:              ErrInFlight,
	http.StatusServiceUnavailable:    ErrUnavailable,
	http.StatusRequestTimeout:        ErrTimeout,
}

// nothingAdded reports whether e says for sure that nothing was added: a
// 408 (the body never arrived), or a 503 whose detail says "nothing was
// added" without "or the outcome is unknown".
func (e *Error) nothingAdded() bool {
	switch {
	case e.Status == http.StatusRequestTimeout:
		return true
	case e.Status >= 500:
		return strings.Contains(e.Detail, "nothing was added") && !strings.Contains(e.Detail, "outcome is unknown")
	}
	return e.Status < 500
}

// final reports whether a request answered with status must not be
// retried: the answer is about the request itself.
func final(status int) bool {
	switch status {
	case http.StatusConflict, http.StatusRequestTimeout:
		return false
	}
	return status < 500
}

// unknown wraps the error of a call that may have added.
type unknown struct{ err error }

func (u *unknown) Error() string {
	return ErrOutcomeUnknown.Error() + ": " + u.err.Error()
}
func (u *unknown) Unwrap() []error { return []error{ErrOutcomeUnknown, u.err} }
