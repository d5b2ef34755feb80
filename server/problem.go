package server

import (
	"encoding/json"
	"errors"
	"net/http"

	"idemsum"
	"idemsum/idempotency"
)

// problem is an RFC 9457 problem details body.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

// statusOf maps an error to its HTTP status and problem type name. Storage
// failures (any error without a code) are 503: nothing was added, or the
// outcome is unknown and a retry with the same key is safe.
func statusOf(err error) (int, string) {
	switch {
	case errors.Is(err, idempotency.ErrInFlight):
		return http.StatusConflict, "in-flight"
	case errors.Is(err, idempotency.ErrMismatch):
		return http.StatusUnprocessableEntity, "key-reused"
	}
	switch idemsum.ErrorCode(err) {
	case idemsum.EINVALID:
		return http.StatusBadRequest, "invalid-input"
	case idemsum.ETOOLARGE:
		return http.StatusRequestEntityTooLarge, "body-too-large"
	case idemsum.ETIMEOUT:
		return http.StatusRequestTimeout, "request-timeout"
	case idemsum.EUNSUPPORTED:
		return http.StatusUnsupportedMediaType, "unsupported-media-type"
	case idemsum.EMETHOD:
		return http.StatusMethodNotAllowed, "method-not-allowed"
	case idemsum.ENOTFOUND:
		return http.StatusNotFound, "not-found"
	}
	return http.StatusServiceUnavailable, "unavailable"
}

// detailOf returns the client-safe explanation of err.
func detailOf(err error) string {
	switch {
	case errors.Is(err, idempotency.ErrInFlight):
		return "a request with this idempotency key is being processed; retry after Retry-After seconds"
	case errors.Is(err, idempotency.ErrMismatch):
		return "this idempotency key was already used with a different number"
	}
	return idemsum.ErrorMessage(err)
}

// writeError writes err as a problem, with Retry-After where a retry is
// the right reaction.
func writeError(w http.ResponseWriter, err error) {
	status, name := statusOf(err)
	if status == http.StatusConflict || status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeProblem(w, status, name, detailOf(err))
}

func writeProblem(w http.ResponseWriter, status int, name, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Del("Content-Length")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(problem{
		Type:   "urn:idemsum:problem:" + name,
		Title:  http.StatusText(status),
		Status: status,
		Detail: detail,
	})
}
