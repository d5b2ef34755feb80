package idempotencytest

import (
	"testing"
	"time"

	"github.com/idemsum/idemsum/idempotency"
)

// Lease and TTL used by TestStore. Harness.Advance is asked to move time by
// fractions and multiples of them, never to wait for them.
const (
	testLease = time.Minute
	testTTL   = time.Hour
)

// Harness tells TestStore how to make and age the Store under test.
type Harness struct {
	// New returns a fresh Store that shares no keys with any other Store it
	// returned. TestStore calls it once per subtest, from parallel subtests.
	New func(t *testing.T) idempotency.Store

	// Advance makes d pass for s, a Store that New returned: its claims and
	// records age by d. Nil skips the subtests that need time to pass.
	Advance func(t *testing.T, s idempotency.Store, d time.Duration)
}

type storeTest struct {
	name    string
	advance bool // needs Harness.Advance
	run     func(t *testing.T, h Harness)
}

// TestStore checks that the Stores h makes keep the idempotency.Store
// contract: records round-trip byte for byte (Created to the millisecond)
// and the first Put wins; keys are exact byte strings; exactly one of many
// concurrent claims wins; a completed key cannot be claimed; Release needs the owning token; claims
// and records expire (when h.Advance is set); tokens are random; a
// non-positive lease or ttl is an error that stores nothing; and a Guard
// over the Store replays, detects mismatches and turns away duplicates.
// Subtests run in parallel, each on a Store of its own.
func TestStore(t *testing.T, h Harness) {
	t.Helper()
	tests := append(recordTests(), claimTests()...)
	tests = append(tests, guardTests()...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.advance && h.Advance == nil {
				t.Skip("Harness.Advance is nil")
			}
			tt.run(t, h)
		})
	}
}
