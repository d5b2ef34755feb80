package redisstore_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/idemsum/idemsum/idempotency/redisstore"
)

// TestNames checks the documented layout: prefix, a 16-hex-digit hash tag
// of the key, the kind and the key itself, whatever the key holds.
func TestNames(t *testing.T) {
	for _, key := range []string{"a", "{tag}", "}", "{", "{}", "claim:x", "a{b}c", strings.Repeat("z", 255)} {
		claim, rec := redisstore.ClaimName("P:", key), redisstore.RecordName("P:", key)
		tag, ok := strings.CutPrefix(claim, "P:{")
		if !ok || len(tag) < 17 || tag[16] != '}' || strings.ContainsAny(tag[:16], "{}") {
			t.Errorf("ClaimName(P:, %q) = %q, want P:{16 hex digits}:claim:%s", key, claim, key)
			continue
		}
		if want := "P:{" + tag[:16] + "}:claim:" + key; claim != want {
			t.Errorf("ClaimName(P:, %q) = %q, want %q", key, claim, want)
		}
		if want := "P:{" + tag[:16] + "}:rec:" + key; rec != want {
			t.Errorf("RecordName(P:, %q) = %q, want %q", key, rec, want)
		}
	}
	if redisstore.ClaimName("", "a") == redisstore.ClaimName("", "b")[:len(redisstore.ClaimName("", "a"))] {
		t.Errorf("keys a and b got the same hash tag")
	}
}

func TestCheckPrefix(t *testing.T) {
	tests := map[string]bool{ // prefix → refused
		"idemsum:": false, "a{b:": false, "}{": false, "a}b:": false,
		"{app}:": true, "x{}:": true, "a{b}c:": true, "{a:}": true,
	}
	for prefix, refused := range tests {
		err := redisstore.CheckPrefix(prefix)
		if got := errors.Is(err, redisstore.ErrPrefixHashTag); got != refused {
			t.Errorf("CheckPrefix(%q) = %v, want refused %v", prefix, err, refused)
		}
	}
}
