package server

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/idemsum/idemsum"
	"github.com/idemsum/idemsum/idempotency"
)

// The HTTP edge's own error codes, beside the domain's (idemsum.EINVALID,
// idemsum.EUNAVAILABLE, idemsum.EUNKNOWN).
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
	// estoreDown: idempotency.ErrStoreUnavailable, a Guard that fails
	// closed (sumd's runs unguarded instead: its ledger is the fence).
	estoreDown = "store_down"
)

// The values of a problem's outcome member: what became of the request's
// addition. Clients decide whether a retry is safe from it, never from
// the detail.
const (
	// notAdded: the request added nothing; any retry is safe.
	notAdded = "not-added"
	// outcomeUnknown: an addition was handed to storage and may have
	// committed; only a retry with the same key is safe.
	outcomeUnknown = "unknown"
)

// outcome is how the service answers one kind of failure: the one place
// where an error becomes a status, a problem, a metric and a log level.
type outcome struct {
	status     int        // HTTP status
	problem    string     // problem type: urn:idemsum:problem:<problem>
	addition   string     // the problem's outcome member: notAdded or outcomeUnknown
	metric     string     // the outcome label of idemsum_requests_total
	detail     string     // what the client is told; "" for the error's own message
	retryAfter bool       // send Retry-After: 1 (a retry is the right reaction)
	level      slog.Level // of the request's log line
	// refusal marks a request refused for who sent it (401, 403): its log
	// line is DEBUG, and a sampled WARN counts them (logsample.go), so that
	// a caller cannot flood the log.
	refusal bool
}

// outcomes maps every error code to its answer. An error without a code
// is a storage failure whose outcome is unknown: EUNKNOWN
// (idemsum.ErrorCode).
var outcomes = map[string]outcome{
	idemsum.EINVALID: {status: http.StatusBadRequest, problem: "invalid-input", addition: notAdded, metric: "invalid", level: slog.LevelInfo},
	etooLarge:        {status: http.StatusRequestEntityTooLarge, problem: "body-too-large", addition: notAdded, metric: "invalid", level: slog.LevelInfo},
	etimeout:         {status: http.StatusRequestTimeout, problem: "request-timeout", addition: notAdded, metric: "invalid", level: slog.LevelInfo},
	eunsupported:     {status: http.StatusUnsupportedMediaType, problem: "unsupported-media-type", addition: notAdded, metric: "invalid", level: slog.LevelInfo},
	emethod:          {status: http.StatusMethodNotAllowed, problem: "method-not-allowed", addition: notAdded, metric: "invalid", level: slog.LevelInfo},
	enotFound:        {status: http.StatusNotFound, problem: "not-found", addition: notAdded, metric: "invalid", level: slog.LevelInfo},
	einFlight: {status: http.StatusConflict, problem: "in-flight", addition: notAdded, metric: "in_flight", retryAfter: true, level: slog.LevelInfo,
		detail: "a request with this idempotency key is being processed; retry after Retry-After seconds"},
	emismatch: {status: http.StatusUnprocessableEntity, problem: "key-reused", addition: notAdded, metric: "mismatch", level: slog.LevelInfo,
		detail: "this idempotency key was already used with a different number"},
	idemsum.EUNAVAILABLE: {status: http.StatusServiceUnavailable, problem: "unavailable", addition: notAdded, metric: "unavailable", retryAfter: true, level: slog.LevelError},
	idemsum.EUNKNOWN:     {status: http.StatusServiceUnavailable, problem: "outcome-unknown", addition: outcomeUnknown, metric: "unknown", retryAfter: true, level: slog.LevelError},
	einternal:            {status: http.StatusInternalServerError, problem: "internal", addition: outcomeUnknown, metric: "other", detail: "internal error", level: slog.LevelError},
	eunauthenticated:     {status: http.StatusUnauthorized, problem: "unauthenticated", addition: notAdded, metric: "unauthenticated", level: slog.LevelDebug, refusal: true},
	ecrossOrigin:         {status: http.StatusForbidden, problem: "cross-origin", addition: notAdded, metric: "forbidden", level: slog.LevelDebug, refusal: true},
	estoreDown: {status: http.StatusServiceUnavailable, problem: "unavailable", addition: notAdded, metric: "unavailable", retryAfter: true, level: slog.LevelError,
		detail: "the idempotency store is unavailable; nothing was added: retry later"},
	etokensNotChecked: {status: http.StatusServiceUnavailable, problem: "tokens-not-checked", addition: notAdded, metric: "unauthenticated", retryAfter: true, level: slog.LevelDebug, refusal: true},
}

// codeOf returns err's code: the toolkit's sentinels, else the domain's.
func codeOf(err error) string {
	switch {
	case errors.Is(err, idempotency.ErrInFlight):
		return einFlight
	case errors.Is(err, idempotency.ErrMismatch):
		return emismatch
	case errors.Is(err, idempotency.ErrStoreUnavailable):
		return estoreDown
	}
	return idemsum.ErrorCode(err)
}

// outcomeOf returns the answer to err; a code the table lacks is an
// unknown outcome.
func outcomeOf(err error) outcome {
	if o, ok := outcomes[codeOf(err)]; ok {
		return o
	}
	return outcomes[idemsum.EUNKNOWN]
}

// readFailed returns the error to answer a failed read with: a read adds
// nothing, so whatever failed, nothing was added (EUNAVAILABLE).
func readFailed(err error) error {
	if o := outcomeOf(err); o.addition != notAdded {
		return idemsum.Unavailable(err)
	}
	return err
}

// outcomeOfStatus names the metric outcome and log level of a response
// that no error produced (one net/http or a library wrote).
// Several codes answer 503; a 503 that no error produced is an instance
// not serving (/readyz while starting or draining, the start-up handler),
// counted as unavailable and logged at INFO (the probe handler logs its cause), the same every time.
func outcomeOfStatus(status int) (string, slog.Level) {
	if status == http.StatusServiceUnavailable {
		return "unavailable", slog.LevelInfo
	}
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
	writeProblem(w, o.status, o.problem, o.addition, detail)
}

// problem is an RFC 9457 problem details body, with the outcome member.
type problem struct {
	Type    string `json:"type"`
	Title   string `json:"title"`
	Status  int    `json:"status"`
	Detail  string `json:"detail"`
	Outcome string `json:"outcome"` // notAdded or outcomeUnknown
}

// newProblem returns the problem of status, type urn:idemsum:problem:name.
func newProblem(status int, name, addition, detail string) problem {
	return problem{Type: "urn:idemsum:problem:" + name, Title: http.StatusText(status),
		Status: status, Detail: detail, Outcome: addition}
}

func writeProblem(w http.ResponseWriter, status int, name, addition, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Del("Content-Length")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(newProblem(status, name, addition, detail))
}
