package idempotency

import (
	"bytes"
	"context"
	"io"
	"net/http"
)

// MaxFingerprintBody is the largest request body Middleware fingerprints;
// a larger body is answered 413.
const MaxFingerprintBody = 1 << 20

// A MiddlewareOption changes what Middleware does; the options are
// RequireKey and FingerprintWith.
type MiddlewareOption func(*middleware)

// RequireKey makes Middleware answer a POST, PUT, PATCH or DELETE without
// an Idempotency-Key header with 400 (a problem naming the header) instead
// of passing it to the handler unguarded, as the IETF draft says a
// resource that requires keys SHOULD. Wrap only the routes that need it.
func RequireKey() MiddlewareOption {
	return func(m *middleware) { m.required = true }
}

// FingerprintWith makes Middleware fingerprint requests with f instead of
// RequestFingerprint, for example JSONFingerprint. Records stored with
// another fingerprint function no longer match: change it with a new
// deployment's keys, or accept 422s for the keys in flight.
func FingerprintWith(f FingerprintFunc) MiddlewareOption {
	return func(m *middleware) { m.fingerprint = f }
}

type middleware struct {
	g           *Guard
	next        http.Handler
	required    bool
	fingerprint FingerprintFunc
}

// Middleware returns net/http middleware that makes POST, PUT, PATCH and
// DELETE requests carrying an Idempotency-Key header idempotent with g;
// other requests pass through, and so do requests without a key unless
// RequireKey is given. The fingerprint is RequestFingerprint's (method,
// path, query and body) unless FingerprintWith chooses another. The
// handler runs under the key's claim, and its response, when g records its
// status (Guard.RecordStatus), is stored and replayed with
// "Idempotent-Replayed: true": status, body, Content-Type and the headers
// that ReplayableHeader allows (Location, ETag, ...; never Set-Cookie,
// Date or connection headers). Recorded and replayed answers carry the
// key's expiry (HeaderExpires).
//
// Middleware answers itself, with an RFC 9457 problem: 400 for an invalid
// key (or a missing one, with RequireKey), 413 for a body over
// MaxFingerprintBody, 409 with Retry-After while another request holds
// the key, 422 for a key reused with another request, and 503 with
// Retry-After when g's Store cannot be reached (the handler did not run;
// see Guard's StoreDown). It panics if g or g.Store is nil: without a
// Store it could replay nothing.
//
// What it cannot do for a handler without a durable fence of its own:
// when the process dies between the handler's effect and the Store's
// record of it, when the Store loses the record, or when the handler
// outlives g.Lease, a retry runs the handler again. A handler that
// records the key in the same transaction as its effect (see Func and
// docs/toolkit.md) makes its effect exactly once.
func Middleware(g *Guard, opts ...MiddlewareOption) func(http.Handler) http.Handler {
	if g == nil || g.Store == nil {
		panic("idempotency: Middleware needs a Guard with a Store")
	}
	return func(next http.Handler) http.Handler {
		m := &middleware{g: g, next: next, fingerprint: RequestFingerprint}
		for _, o := range opts {
			o(m)
		}
		return m
	}
}

func (m *middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw := r.Header.Values(HeaderKey)
	switch {
	case !unsafeMethod(r.Method):
		m.next.ServeHTTP(w, r)
		return
	case len(raw) == 0 && m.required:
		writeProblem(w, http.StatusBadRequest, "Idempotency-Key is missing", "this request requires an Idempotency-Key header")
		return
	case len(raw) == 0:
		m.next.ServeHTTP(w, r)
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
	fp := m.fingerprint(r, body)
	var first http.Header
	res, err := m.g.Do(r.Context(), key, fp, func(ctx context.Context) (Record, bool, error) {
		rec, header := record(m.next, r.WithContext(ctx), fp)
		first = header
		return rec, false, nil
	})
	if err != nil {
		writeError(w, err, m.g.backoff())
		return
	}
	for name, vals := range first { // the first response keeps all its headers
		w.Header()[name] = vals
	}
	WriteRecord(w, res)
}

func unsafeMethod(m string) bool {
	return m == http.MethodPost || m == http.MethodPut || m == http.MethodPatch || m == http.MethodDelete
}
