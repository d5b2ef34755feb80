package idempotency

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"net/http"
)

// Fingerprint returns a hex SHA-256 digest of parts. Each part is
// length-prefixed, so ("ab", "c") and ("a", "bc") differ. Two requests
// with one key and different fingerprints are a mismatch (ErrMismatch).
func Fingerprint(parts ...string) string {
	h := sha256.New()
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// A FingerprintFunc returns the fingerprint of r for Middleware: two
// requests with one key and different fingerprints are a mismatch (422).
// body is r's body, read whole (at most MaxFingerprintBody bytes); r.Body
// is left for the handler. It runs before the key is looked up, on every
// keyed request.
type FingerprintFunc func(r *http.Request, body []byte) string

// RequestFingerprint is Middleware's default FingerprintFunc: method, path,
// query and the body's bytes as they are. A client that sends the same
// request again byte for byte matches; one that re-serialises its body
// (another key order, other spaces) does not, see JSONFingerprint.
func RequestFingerprint(r *http.Request, body []byte) string {
	return Fingerprint(r.Method, r.URL.Path, r.URL.RawQuery, string(body))
}
