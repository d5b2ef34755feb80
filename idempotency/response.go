package idempotency

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// The response headers the toolkit sets.
const (
	// HeaderReplayed marks a replayed answer: "Idempotent-Replayed: true".
	HeaderReplayed = "Idempotent-Replayed"

	// HeaderExpires carries the key's expiry on every recorded and
	// replayed answer, as an HTTP-date (RFC 9110 IMF-fixdate, rounded down
	// to the second): until then a retry with the key gets this answer;
	// after it the key may be forgotten, and a request with it run as new.
	// The IETF draft asks servers to publish their expiry policy but has
	// no header for it yet (its issues #35 and #49 ask for one); the name
	// is this toolkit's.
	HeaderExpires = "Idempotency-Key-Expires"
)

// replayedTrue is the value of Idempotent-Replayed, shared by every replay
// (capacity one: net/http never changes it in place).
var replayedTrue = []string{"true"}

// WriteRecord writes res to w, with "Idempotent-Replayed: true" on replays
// and the key's expiry (HeaderExpires) when res.Expires is set. Of
// res.Header it sends only the headers ReplayableHeader allows, and a
// status outside 200-599 is sent as 500, so that a record read from a
// corrupt store can neither set a cookie nor crash the handler.
func WriteRecord(w http.ResponseWriter, res Result) {
	for name, vals := range res.Header {
		if ReplayableHeader(name) {
			w.Header()[http.CanonicalHeaderKey(name)] = vals
		}
	}
	if res.ContentType != "" {
		w.Header()["Content-Type"] = []string{res.ContentType}
	}
	if res.Replayed {
		w.Header()[HeaderReplayed] = replayedTrue
	}
	if !res.Expires.IsZero() {
		w.Header()[HeaderExpires] = []string{res.Expires.UTC().Format(http.TimeFormat)}
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(res.Body)))
	status := res.Status
	if status < 200 || status > 599 {
		status = http.StatusInternalServerError
	}
	w.WriteHeader(status)
	w.Write(res.Body)
}

// record runs h and captures its response as a Record, and all its
// headers for the first response.
func record(h http.Handler, r *http.Request, fp string) (Record, http.Header) {
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	h.ServeHTTP(rec, r)
	var kept http.Header
	for name, vals := range rec.header {
		if ReplayableHeader(name) {
			if kept == nil {
				kept = http.Header{}
			}
			kept[http.CanonicalHeaderKey(name)] = vals
		}
	}
	return Record{Fingerprint: fp, Status: rec.status, ContentType: rec.header.Get("Content-Type"), Header: kept, Body: rec.body.Bytes()}, rec.header
}

type recorder struct {
	header      http.Header
	body        bytes.Buffer
	status      int
	wroteHeader bool
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.status, r.wroteHeader = code, true
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(p)
}

// writeError answers an error of Guard.Do; retry is the Retry-After of a
// 503, the Guard's Backoff.
func writeError(w http.ResponseWriter, err error, retry time.Duration) {
	switch {
	case errors.Is(err, ErrInFlight):
		w.Header().Set("Retry-After", "1")
		writeProblem(w, http.StatusConflict, "Request in flight", err.Error())
	case errors.Is(err, ErrMismatch):
		writeProblem(w, http.StatusUnprocessableEntity, "Idempotency key reused", err.Error())
	case errors.Is(err, ErrStoreUnavailable):
		w.Header().Set("Retry-After", retryAfter(retry))
		writeProblem(w, http.StatusServiceUnavailable, "Idempotency store unavailable", "the request was not run; retry with the same key")
	default:
		w.Header().Set("Retry-After", retryAfter(retry))
		writeProblem(w, http.StatusServiceUnavailable, "Unavailable", "the request could not be completed; retry with the same key")
	}
}

// retryAfter returns d as a Retry-After value: whole seconds, at least 1.
func retryAfter(d time.Duration) string {
	return strconv.Itoa(max(1, int((d+time.Second-1)/time.Second)))
}

// writeProblem writes an RFC 9457 problem. The toolkit has a writer of its
// own rather than idemsum's (server/outcome.go): it imports nothing of any
// service that uses it, and its problems are generic (type about:blank).
func writeProblem(w http.ResponseWriter, status int, title, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"type":"about:blank","title":%q,"status":%d,"detail":%q}`+"\n", title, status, detail)
}
