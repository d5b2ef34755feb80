package idemsum

import (
	"errors"
	"fmt"
)

// The domain's error codes. The HTTP edge adds codes of its own (such as
// a body too large) and maps every code to an answer in one table
// (server/outcome.go).
const (
	EINVALID = "invalid" // malformed or out-of-range input
	// EUNAVAILABLE: storage is unavailable and nothing was added (nothing
	// was sent, or what was sent was rolled back): any retry is safe.
	EUNAVAILABLE = "unavailable"
	// EUNKNOWN: storage failed after an addition was sent, so whether it
	// committed is unknown: a retry with the same key is safe. Every error
	// without a code is one (ErrorCode).
	EUNKNOWN = "unknown"
)

// Error is a domain error whose Message is safe to show to clients.
type Error struct {
	Code    string
	Message string
	// Err is the cause, for logs: it is in the error's chain (errors.Is
	// and As see it) and in its text, never in Message.
	Err error
}

// Error returns the message with its code, and the cause if there is one.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("idemsum: %s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("idemsum: %s: %s", e.Code, e.Message)
}

// Unwrap returns the cause, or nil.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Unavailable returns the EUNAVAILABLE *Error of a storage failure after
// which nothing was added, with err, its cause, kept for logs. Storage
// returns it only when it is sure: nothing was sent, or the server rolled
// back what was.
func Unavailable(err error) *Error {
	return &Error{Code: EUNAVAILABLE, Err: err,
		Message: "storage is unavailable; nothing was added: retrying is safe"}
}

// ErrorCode returns the code of the first *Error in err's chain, "" for
// nil, or EUNKNOWN for any other error (a storage failure whose outcome is
// unknown).
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	}
	return EUNKNOWN
}

// ErrorMessage returns the client-safe message of err. An error without
// a code gets a message that keeps the words "or the outcome is unknown",
// which clients that predate the problem's outcome member look for.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "storage is unavailable; nothing was added, or the outcome is unknown: retrying with the same idempotency key is safe"
}
