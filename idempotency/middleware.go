package idempotency

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// MaxFingerprintBody is the largest request body Middleware fingerprints;
// a larger body is answered 413.
const MaxFingerprintBody = 1 << 20

// Middleware returns net/http middleware that makes POST, PUT, PATCH and
// DELETE requests carrying an Idempotency-Key header idempotent with g.
// The fingerprint covers method, path, query and body. The wrapped handler
// runs under the key's claim and its response (unless 5xx) is stored and
// replayed with "Idempotent-Replayed: true": status, body, Content-Type and
// the headers that ReplayableHeader allows (Location, ETag, ...; never
// Set-Cookie, Date or connection headers). Without a durable fence inside
// the handler, a handler that outlives the lease may run twice; handlers
// with side effects should fence them as Func describes.
func Middleware(g *Guard) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			raw := r.Header.Values(HeaderKey)
			if len(raw) == 0 || !unsafeMethod(r.Method) {
				next.ServeHTTP(w, r)
				return
			}
			key, err := ParseHeader(raw[0])
			if err != nil || len(raw) > 1 {
				writeProblem(w, http.StatusBadRequest, "Invalid idempotency key", ErrInvalidKey.Error())
				return
			}
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxFingerprintBody))
			if err != nil {
				writeProblem(w, http.StatusRequestEntityTooLarge, "Body too large", "the request body is too large to fingerprint")
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			fp := Fingerprint(r.Method, r.URL.Path, r.URL.RawQuery, string(body))
			var first http.Header
			res, err := g.Do(r.Context(), key, fp, func(ctx context.Context) (Record, bool, error) {
				rec, header := record(next, r.WithContext(ctx), fp)
				first = header
				return rec, false, nil
			})
			if err != nil {
				writeError(w, err)
				return
			}
			for name, vals := range first { // the first response keeps all its headers
				w.Header()[name] = vals
			}
			WriteRecord(w, res)
		})
	}
}

// replayedTrue is the value of Idempotent-Replayed, shared by every replay
// (capacity one: net/http never changes it in place).
var replayedTrue = []string{"true"}

// WriteRecord writes res to w, with "Idempotent-Replayed: true" on replays.
// Of res.Header it sends only the headers ReplayableHeader allows, and a
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
		w.Header()["Idempotent-Replayed"] = replayedTrue
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(res.Body)))
	status := res.Status
	if status < 200 || status > 599 {
		status = http.StatusInternalServerError
	}
	w.WriteHeader(status)
	w.Write(res.Body)
}

func unsafeMethod(m string) bool {
	return m == http.MethodPost || m == http.MethodPut || m == http.MethodPatch || m == http.MethodDelete
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

func writeError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrInFlight):
		w.Header().Set("Retry-After", "1")
		writeProblem(w, http.StatusConflict, "Request in flight", err.Error())
	case errors.Is(err, ErrMismatch):
		writeProblem(w, http.StatusUnprocessableEntity, "Idempotency key reused", err.Error())
	default:
		writeProblem(w, http.StatusServiceUnavailable, "Unavailable", "the request could not be completed; retry with the same key")
	}
}

// writeProblem writes an RFC 9457 problem. The toolkit has a writer of its
// own rather than idemsum's (server/outcome.go): it imports nothing of any
// service that uses it, and its problems are generic (type about:blank).
func writeProblem(w http.ResponseWriter, status int, title, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"type":"about:blank","title":%q,"status":%d,"detail":%q}`+"\n", title, status, detail)
}
