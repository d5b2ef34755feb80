package client

import (
	"encoding/json"
	"net/http"
	"strings"
)

// problemPrefix begins the type of every idemsum problem.
const problemPrefix = "urn:idemsum:problem:"

// problemOf returns the *Error of a response other than 2xx and 3xx. Its
// Outcome is read only from an idemsum problem.
func problemOf(rep reply) *Error {
	e := &Error{Status: rep.status, Title: http.StatusText(rep.status), RetryAfter: parseRetryAfter(rep.header.Get("Retry-After"))}
	var p struct{ Type, Title, Detail, Outcome string }
	if json.Unmarshal(rep.body, &p) != nil || p.Type == "" {
		e.Detail = snippet(rep.body)
		return e
	}
	e.Type, e.Detail = p.Type, p.Detail
	if p.Title != "" {
		e.Title = p.Title
	}
	if strings.HasPrefix(p.Type, problemPrefix) {
		e.Outcome = p.Outcome
	}
	return e
}

// snippet returns body trimmed, and cut at 256 bytes.
func snippet(body []byte) string {
	s := strings.TrimSpace(string(body))
	if len(s) > 256 {
		s = strings.ToValidUTF8(s[:256], "") + "…"
	}
	return s
}

// notAdded reports whether e, a 5xx, says for sure that its request
// added nothing: an idemsum problem whose outcome member says so and
// whose type does not say the opposite. The detail is never read.
func (e *Error) notAdded() bool {
	return e.Outcome == OutcomeNotAdded && e.Type != problemPrefix+"outcome-unknown"
}
