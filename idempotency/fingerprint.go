package idempotency

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
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
