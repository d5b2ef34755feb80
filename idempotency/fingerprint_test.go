package idempotency_test

import (
	"encoding/hex"
	"testing"

	"github.com/idemsum/idemsum/idempotency"
)

// TestFingerprintLengthPrefix checks that parts are length-prefixed: moving
// the boundaries between parts, or adding empty parts, changes the result.
func TestFingerprintLengthPrefix(t *testing.T) {
	tests := [][]string{
		{},
		{""},
		{"", ""},
		{"abc"},
		{"ab", "c"},
		{"a", "bc"},
		{"a", "b", "c"},
		{"abc", ""},
		{"", "abc"},
		{"\x00\x00\x00\x00\x00\x00\x00\x01a"},
		{"\x00\x00\x00\x00\x00\x00\x00\x01", "a"},
		{"POST", "/sum", "", `{"number":5}`},
		{"POST", "/sum", `{"number":5}`, ""},
	}
	seen := map[string][]string{}
	for _, parts := range tests {
		fp := idempotency.Fingerprint(parts...)
		if b, err := hex.DecodeString(fp); err != nil || len(b) != 32 {
			t.Fatalf("Fingerprint(%q) = %q, want 64 hex digits", parts, fp)
		}
		if prev, ok := seen[fp]; ok {
			t.Fatalf("Fingerprint(%q) = Fingerprint(%q) = %s", parts, prev, fp)
		}
		seen[fp] = parts
		if again := idempotency.Fingerprint(parts...); again != fp {
			t.Fatalf("Fingerprint(%q): got %s then %s", parts, fp, again)
		}
	}
}

// TestFingerprintSplits checks every way of splitting one string in two.
func TestFingerprintSplits(t *testing.T) {
	const s = "number=42&key=abc"
	seen := map[string]int{}
	for i := 0; i <= len(s); i++ {
		fp := idempotency.Fingerprint(s[:i], s[i:])
		if j, ok := seen[fp]; ok {
			t.Fatalf("split at %d and at %d give the same fingerprint", j, i)
		}
		seen[fp] = i
	}
}
