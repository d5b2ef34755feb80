package idempotency

import (
	"errors"
	"net/http"
)

// ErrInvalidRecord reports a Record that a replay must not send: a status
// outside 200-499, or a header that is not replayable or not well-formed.
var ErrInvalidRecord = errors.New("idempotency: record cannot be replayed")

// replayable are the response headers a Record keeps and a replay sends:
// those that describe the result itself. Everything else — cookies,
// connection and framing headers, dates, anything unknown — is dropped
// when a Record is made and refused when one is read back.
var replayable = map[string]bool{
	"Cache-Control": true, "Content-Disposition": true, "Content-Language": true,
	"Content-Location": true, "Etag": true, "Expires": true, "Last-Modified": true,
	"Link": true, "Location": true, "Vary": true,
}

// ReplayableHeader reports whether a response header of this name is kept
// in a Record and replayed: Cache-Control, Content-Disposition,
// Content-Language, Content-Location, ETag, Expires, Last-Modified, Link,
// Location and Vary. Set-Cookie never is.
func ReplayableHeader(name string) bool { return replayable[http.CanonicalHeaderKey(name)] }

// Cacheable reports whether a Record with this status may be stored and
// replayed at all: 200 to 499. A 5xx says nothing was done, or the outcome
// is unknown, so the request may be tried again. Which of these statuses
// a Guard records is its policy (Guard.RecordStatus, DefaultRecordStatus).
func Cacheable(status int) bool { return status >= 200 && status < 500 }

// ValidRecord returns ErrInvalidRecord unless rec could have been made by
// this package from a response: a Cacheable status, a Content-Type and
// header values without control characters, and only replayable headers.
// Stores that read records from a shared backend check it.
func ValidRecord(rec Record) error {
	if !Cacheable(rec.Status) || !cleanValue(rec.ContentType) {
		return ErrInvalidRecord
	}
	for name, vs := range rec.Header {
		if !ReplayableHeader(name) || http.CanonicalHeaderKey(name) != name {
			return ErrInvalidRecord
		}
		for _, v := range vs {
			if !cleanValue(v) {
				return ErrInvalidRecord
			}
		}
	}
	return nil
}

// cleanValue reports whether v has no control characters other than tab.
func cleanValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
