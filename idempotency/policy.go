package idempotency

import (
	"errors"
	"net/http"
)

// StoreDownPolicy says what a Guard does while its Store cannot be
// reached: after a Store call failed, and for the Guard's Backoff after.
type StoreDownPolicy int

const (
	// FailClosed, the default, refuses the call with ErrStoreUnavailable
	// and does not run Func: without the Store nothing would stop a
	// duplicate from running it again. Middleware answers 503 with
	// Retry-After, and the client retries later with the same key.
	FailClosed StoreDownPolicy = iota

	// RunUnguarded runs Func without the Store, trusting Func's own
	// durable fence (a unique key in the database that records the effect,
	// see Func) to make a duplicate harmless and to remember the key until
	// Result.Expires. Choose it only for such a Func: for anything else a
	// Store outage turns every retry into a second effect.
	RunUnguarded
)

// ErrStoreUnavailable reports that a Guard with FailClosed did not run
// Func because its Store could not be reached. Nothing was done: a retry
// with the same key, once the Store is back, is safe. The error wraps the
// Store's own error when there was one.
var ErrStoreUnavailable = errors.New("idempotency: store unavailable; the request was not run")

// DefaultRecordStatus is the record policy of a Guard whose RecordStatus
// is nil. It records what a retry of the same request must get again:
//
//   - every 2xx and 3xx: a result, possibly of an effect (a 303 after a
//     POST reports one), which a retry must be told, not cause again;
//   - 400, 404, 405, 410, 413, 414 and 422: refusals that follow from what
//     the default fingerprint covers (method, path, query, body), so the
//     same request would be refused again.
//
// It records nothing else: 401 and 403 depend on the credentials, 406,
// 411 and 415 on headers the fingerprint does not cover, 408, 425 and 429
// on time and load, 409, 412 and 428 on the resource's current state, 5xx
// say the request was not done or its outcome is unknown. None of these
// is a property of the request, a client may fix the cause and retry with
// the same key, and a handler that answers them made no effect, so running
// it again is harmless. A handler that can refuse after an effect must
// record the key with the effect (see Func).
func DefaultRecordStatus(status int) bool {
	if status >= 200 && status < 400 {
		return true
	}
	switch status {
	case http.StatusBadRequest, http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusGone,
		http.StatusRequestEntityTooLarge, http.StatusRequestURITooLong, http.StatusUnprocessableEntity:
		return true
	}
	return false
}
