package client

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// The sentinels an *Error matches with errors.Is, by status. The first
// six, and ErrRedirected, are final answers, never retried.
var (
	ErrInvalid         = errors.New("client: invalid input")                                    // 400
	ErrTooLarge        = errors.New("client: request body too large")                           // 413
	ErrUnsupported     = errors.New("client: unsupported media type")                           // 415
	ErrKeyReused       = errors.New("client: idempotency key already used with another number") // 422
	ErrUnauthorized    = errors.New("client: no valid API token (WithToken)")                   // 401
	ErrForbidden       = errors.New("client: refused as a cross-origin request")                // 403
	ErrRedirected      = errors.New("client: redirected (not followed)")                        // 3xx
	ErrInFlight        = errors.New("client: idempotency key in flight")                        // 409
	ErrUnavailable     = errors.New("client: service unavailable")                              // 503
	ErrTimeout         = errors.New("client: request timeout")                                  // 408
	ErrTooManyRequests = errors.New("client: too many requests")                                // 429
)

// ErrOutcomeUnknown is matched (errors.Is) by the error of an addition
// that may or may not have been made: an attempt was sent and its answer
// never came (a network error, a timeout, the context's end), or was a
// 5xx whose problem does not say nothing was added, or a 2xx that is not
// a total. Add never retries an addition without a key in that state. A
// keyed addition is retried until its context or attempts run out; if it
// then fails with ErrOutcomeUnknown, Add again with WithKey(Result.Key)
// to learn the outcome safely.
var ErrOutcomeUnknown = errors.New("client: outcome unknown: the number may or may not have been added")

// The values of a problem's outcome member (Error.Outcome).
const (
	OutcomeNotAdded = "not-added" // the request added nothing
	OutcomeUnknown  = "unknown"   // the addition may have been made
)

// Error is an answer of the service other than a total: a problem
// (RFC 9457 problem+json), or a redirect.
type Error struct {
	Status     int           // HTTP status
	Type       string        // problem type, such as urn:idemsum:problem:key-reused
	Title      string        // the status text
	Detail     string        // what the service said (never read by the Client)
	RetryAfter time.Duration // the Retry-After header, if any (at most MaxRetryAfter)
	Location   string        // a redirect's Location header (a 3xx)
	Outcome    string        // an idemsum problem's outcome member: OutcomeNotAdded, OutcomeUnknown or ""
}

// Error returns the status and the detail.
func (e *Error) Error() string {
	return fmt.Sprintf("idemsum: %d %s: %s", e.Status, http.StatusText(e.Status), e.Detail)
}

// Is reports whether target is the sentinel of e's status.
func (e *Error) Is(target error) bool {
	if e.Status/100 == 3 {
		return target == ErrRedirected
	}
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
	http.StatusTooManyRequests:       ErrTooManyRequests,
}
