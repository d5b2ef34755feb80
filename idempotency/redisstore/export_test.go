package redisstore

import (
	"context"
	"time"
)

// Encode and Decode are the Store's codec, for the codec's tests and for
// tests that plant values.
var (
	Encode = encode
	Decode = decode
)

// Repair is the compare-and-expire of a record whose expiry Get found
// lost or stretched.
func (s *Store) Repair(ctx context.Context, name, b string, left time.Duration) {
	s.repair(ctx, name, b, left)
}
