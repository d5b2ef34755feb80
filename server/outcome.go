package server

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"idemsum"
	"idemsum/idempotency"
)

// The HTTP edge's own error codes, beside the domain's (idemsum.EINVALID,
// idemsum.EUNAVAILABLE).
const (
	etooLarge    = "too_large"   // request body over the limit
	etimeout     = "timeout"     // request body not received within the read timeout
	eunsupported = "unsupported" // body in an unsupported content type
	emethod      = "method"      // method not allowed on the route
	enotFound    = "not_found"   // no such route
	einFlight    = "in_flight"   // idempotency.ErrInFlight
	emismatch    = "mismatch"    // idempotency.ErrMismatch
	einternal    = "internal"    // a handler panicked
	// eunauthenticated: no valid API token (Access.Authenticate).
	eunauthenticated = "unauthenticated"
	// ecrossOrigin: a browser request from another origin that could add.
	ecrossOrigin = "cross_origin"
	// etokensNotChecked: a bearer token sent to an instance without tokens.
	etokensNotChecked = "tokens_not_checked"
)

// outcome is how the service answers one kind of failure: the one place
// where an error becomes a status, a problem, a metric and a log level.
type outcome struct {
	status     int        // HTTP status
	problem    string     // problem type: urn:idemsum:problem:<problem>
	metric     string     // the outcome label of idemsum_requests_total
	detail     string     // what the client is told; "" for the error's own message
	retryAfter bool       // send Retry-After: 1 (a retry is the right reaction)
	level      slog.Level // of the request's log line
}

// outcomes maps every error code to its answer. An error without a code
// is a storage failure: EUNAVAILABLE (idemsum.ErrorCode).
var outcomes = map[string]outcome{
	idemsum.EINVALID:     {http.StatusBadRequest, "invalid-input", "invalid", "", false, slog.LevelInfo},
	etooLarge:            {http.StatusRequestEntityTooLarge, "body-too-large", "invalid", "", false, slog.LevelInfo},
	etimeout:             {http.StatusRequestTimeout, "request-timeout", "invalid", "", false, slog.LevelInfo},
	eunsupported:         {http.StatusUnsupportedMediaType, "unsupported-media-type", "invalid", "", false, slog.LevelInfo},
	emethod:              {http.StatusMethodNotAllowed, "method-not-allowed", "invalid", "", false, slog.LevelInfo},
	enotFound:            {http.StatusNotFound, "not-found", "invalid", "", false, slog.LevelInfo},
	einFlight:            {http.StatusConflict, "in-flight", "in_flight", "a request with this idempotency key is being processed; retry after Retry-After seconds", true, slog.LevelInfo},
	emismatch:            {http.StatusUnprocessableEntity, "key-reused", "mismatch", "this idempotency key was already used with a different number", false, slog.LevelInfo},
	idemsum.EUNAVAILABLE: {http.StatusServiceUnavailable, "unavailable", "unavailable", "", true, slog.LevelError},
	einternal:            {http.StatusInternalServerError, "internal", "other", "internal error", false, slog.LevelError},
	eunauthenticated:     {http.StatusUnauthorized, "unauthenticated", "unauthenticated", "", false, slog.LevelWarn},
	ecrossOrigin:         {http.StatusForbidden, "cross-origin", "forbidden", "", false, slog.LevelWarn},
	etokensNotChecked:    {http.StatusServiceUnavailable, "tokens-not-checked", "unauthenticated", "", true, slog.LevelWarn},
}

// codeOf returns err's code: the toolkit's sentinels, else the domain's.
func codeOf(err error) string {
	switch {
	case errors.Is(err, idempotency.ErrInFlight):
		return einFlight
	case errors.Is(err, idempotency.ErrMismatch):
		return emismatch
	}
	return idemsum.ErrorCode(err)
}

// outcomeOf returns the answer to err.
func outcomeOf(err error) outcome {
	if o, ok := outcomes[codeOf(err)]; ok {
		return o
	}
	return outcomes[idemsum.EUNAVAILABLE]
}

// outcomeOfStatus names the metric outcome and log level of a response
// that no error produced (one net/http or a library wrote).
func outcomeOfStatus(status int) (string, slog.Level) {
	for _, o := range outcomes {
		if o.status == status {
			return o.metric, o.level
		}
	}
	if status >= 500 {
		return "other", slog.LevelError
	}
	if status >= 400 {
		return "invalid", slog.LevelInfo
	}
	return "other", slog.LevelInfo
}

// writeError answers r with err as a problem, as its outcome says, notes
// the outcome for the metrics and the log line, and logs a storage
// failure with its cause (which the client is never shown).
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	o := outcomeOf(err)
	noteOutcome(r, o)
	if o.level >= slog.LevelError && log != nil {
		log.Error("request failed", "path", r.URL.Path, "err", err)
	}
	if o.retryAfter {
		w.Header().Set("Retry-After", "1")
	}
	detail := o.detail
	if detail == "" {
		detail = idemsum.ErrorMessage(err)
	}
	writeProblem(w, o.status, o.problem, detail)
}

// problem is an RFC 9457 problem details body.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
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
