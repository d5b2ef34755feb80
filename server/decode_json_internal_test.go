package server

import (
	"slices"
	"testing"
)

// FuzzPlainNumberObject: whatever the fast path accepts, encoding/json
// reads the same way (one "number" field with the same digits).
func FuzzPlainNumberObject(f *testing.F) {
	for _, s := range []string{`{"number":5}`, ` { "number" : 12 } `, "{\"number\":\t7\n}", `{"number":05}`, `{"number":0}`, `{"number":-1}`,
		`{"number":1.5}`, `{"number":"5"}`, `{"numb\u0065r":5}`, `{"number":5}x`, `{"number":5}{}`, `{"number":5,"number":6}`, `{}`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		digits, ok := plainNumberObject(body)
		if !ok {
			return
		}
		fs, err := decodeJSON(body)
		if err != nil || !slices.Equal(fs, []field{{"number", digits}}) {
			t.Fatalf("fast path read %q as %q; encoding/json: %v, %v", body, digits, fs, err)
		}
	})
}
