package idemsum

import (
	"errors"
	"fmt"
)

// The domain's error codes. The HTTP edge adds codes of its own (such as
// a body too large) and maps every code to an answer in one table
// (server/outcome.go).
const (
	EINVALID     = "invalid"     // malformed or out-of-range input
	EUNAVAILABLE = "unavailable" // storage unreachable; safe to retry with the key
)

// Error is a domain error whose Message is safe to show to clients.
type Error struct {
	Code    string
	Message string
}

// Error returns the message with its code.
func (e *Error) Error() string { return fmt.Sprintf("idemsum: %s: %s", e.Code, e.Message) }

// Errorf returns an *Error with code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, "" for
// nil, or EUNAVAILABLE for any other error (a storage failure).
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	}
	return EUNAVAILABLE
}

// ErrorMessage returns the client-safe message of err.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "storage is unavailable; nothing was added, or the outcome is unknown: retrying with the same idempotency key is safe"
}
