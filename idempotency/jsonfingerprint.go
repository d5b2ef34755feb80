package idempotency

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"unicode/utf8"
)

// JSONFingerprint returns a FingerprintFunc for JSON bodies. It covers
// method, path, query and the body in canonical form: decoded and encoded
// again with object members sorted by name, no insignificant whitespace,
// strings escaped one way and numbers as written (1.0 and 1 differ),
// without the body's top-level members named in ignore (such as a trace
// id the handler does not act on). So a client that re-serialises its
// request, or changes an ignored member, still matches its first request.
//
// Ignore only members that do not change what the handler does: a retry
// that differs in one gets the first request's answer. A body that is not
// a single JSON value in valid UTF-8 is fingerprinted as RequestFingerprint
// does, its bytes as they are, and left to the handler to refuse.
func JSONFingerprint(ignore ...string) FingerprintFunc {
	skip := make(map[string]bool, len(ignore))
	for _, name := range ignore {
		skip[name] = true
	}
	return func(r *http.Request, body []byte) string {
		canon, err := canonicalJSON(body, skip)
		if err != nil {
			return RequestFingerprint(r, body)
		}
		return Fingerprint(r.Method, r.URL.Path, r.URL.RawQuery, "json", string(canon))
	}
}

// errNotOneValue reports a body with more than one JSON value.
var errNotOneValue = errors.New("idempotency: not a single JSON value")

// canonicalJSON returns body re-encoded (encoding/json sorts object
// members by name), without the top-level members in skip.
func canonicalJSON(body []byte, skip map[string]bool) ([]byte, error) {
	if !utf8.Valid(body) { // the decoder would turn invalid bytes into U+FFFD: two bodies, one fingerprint
		return nil, errNotOneValue
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errNotOneValue
	}
	if obj, ok := v.(map[string]any); ok {
		for name := range skip {
			delete(obj, name)
		}
	}
	return json.Marshal(v)
}
