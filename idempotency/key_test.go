package idempotency_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/idemsum/idemsum/idempotency"
)

var (
	key255 = strings.Repeat("k", idempotency.MaxKeyLen)
	key256 = strings.Repeat("k", idempotency.MaxKeyLen+1)
)

func TestValidKey(t *testing.T) {
	tests := []struct {
		name string
		key  string
		ok   bool
	}{
		{"one byte", "a", true},
		{"uuid", "8e03978e-40d5-43e8-bc93-6894a57f9324", true},
		{"punctuation", `!"#$%&'()*+,-./:;<=>?@[\]^_{|}~` + "`", true},
		{"255 bytes", key255, true},
		{"empty", "", false},
		{"256 bytes", key256, false},
		{"space", "a b", false},
		{"tab", "a\tb", false},
		{"NUL", "a\x00", false},
		{"DEL", "a\x7f", false},
		{"non-ASCII", "clé", false},
		{"high byte", "a\xff", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := idempotency.ValidKey(tt.key)
			if got := err == nil; got != tt.ok {
				t.Fatalf("ValidKey(%q) = %v, want ok %v", tt.key, err, tt.ok)
			}
			if err != nil && !errors.Is(err, idempotency.ErrInvalidKey) {
				t.Fatalf("ValidKey(%q) = %v, want %v", tt.key, err, idempotency.ErrInvalidKey)
			}
		})
	}
}

func TestParseHeader(t *testing.T) {
	tests := []struct {
		name, header, want string
		ok                 bool
	}{
		{"bare token", "abc-123", "abc-123", true},
		{"bare with quote inside", `a"b`, `a"b`, true},
		{"surrounding whitespace", " \tabc\t ", "abc", true},
		{"sf-string", `"abc"`, "abc", true},
		{"sf-string escapes", `"a\"b\\c"`, `a"b\c`, true},
		{"sf-string only escapes", `"\\\""`, `\"`, true},
		{"bare 255 bytes", key255, key255, true},
		{"quoted 255 bytes", `"` + key255 + `"`, key255, true},
		{"empty", "", "", false},
		{"only whitespace", " \t ", "", false},
		{"empty sf-string", `""`, "", false},
		{"bare 256 bytes", key256, "", false},
		{"quoted 256 bytes", `"` + key256 + `"`, "", false},
		{"bare space", "a b", "", false},
		{"quoted space", `"a b"`, "", false},
		{"DEL", "a\x7f", "", false},
		{"non-ASCII", "clé", "", false},
		{"quoted non-ASCII", `"clé"`, "", false},
		{"bad escape", `"a\b"`, "", false},
		{"escape at end", `"abc\"`, "", false},
		{"unterminated", `"abc`, "", false},
		{"lone quote", `"`, "", false},
		{"inner quote", `"a"b"`, "", false},
		{"trailing after string", `"a"b`, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := idempotency.ParseHeader(tt.header)
			if tt.ok && (err != nil || got != tt.want) {
				t.Fatalf("ParseHeader(%q) = %q, %v; want %q, nil", tt.header, got, err, tt.want)
			}
			if !tt.ok && !errors.Is(err, idempotency.ErrInvalidKey) {
				t.Fatalf("ParseHeader(%q) = %q, %v; want error %v", tt.header, got, err, idempotency.ErrInvalidKey)
			}
		})
	}
}

// FuzzParseHeader checks that every key ParseHeader accepts is valid and
// that quoting it as an sf-string parses back to the same key.
func FuzzParseHeader(f *testing.F) {
	for _, seed := range []string{
		"abc", `"abc"`, `"a\"b\\c"`, "", `""`, `"`, `"abc`, `"a\b"`, `"abc\"`,
		" abc ", "a b", "a\x7f", "clé", key255, key256, `"` + key255 + `"`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		key, err := idempotency.ParseHeader(header)
		if err != nil {
			return
		}
		if err := idempotency.ValidKey(key); err != nil {
			t.Fatalf("ParseHeader(%q) accepted %q, which ValidKey rejects: %v", header, key, err)
		}
		quoted := idempotency.FormatHeader(key)
		if again, err := idempotency.ParseHeader(quoted); err != nil || again != key {
			t.Fatalf("ParseHeader(FormatHeader(%q)) = %q, %v; want %q", key, again, err, key)
		}
	})
}

func TestFormatHeader(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]string{"abc": `"abc"`, `a"b\c`: `"a\"b\\c"`, `"`: `"\""`} {
		if got := idempotency.FormatHeader(key); got != want {
			t.Errorf("FormatHeader(%q) = %s, want %s", key, got, want)
		}
	}
}

// TestScopedKeyIsOneToOne: different (scope, key) pairs of valid keys
// never share a scoped key, and the empty scope leaves the key as it is.
func TestScopedKeyIsOneToOne(t *testing.T) {
	pairs := [][2]string{{"", "a"}, {"", "a b"}, {"a", "b"}, {"a b", "c"}, {"a", "b c"}, {"ab", "c"}, {"a", "bc"}, {"", "a:b"}, {"a:", "b"}, {" ", "a"}}
	seen := map[string][2]string{}
	for _, p := range pairs {
		if idempotency.ValidKey(p[1]) != nil {
			continue // only valid keys reach a Guard
		}
		sk := idempotency.ScopedKey(p[0], p[1])
		if prev, ok := seen[sk]; ok {
			t.Errorf("ScopedKey%q = ScopedKey%q = %q", p, prev, sk)
		}
		seen[sk] = p
	}
	if got := idempotency.ScopedKey("", "k"); got != "k" {
		t.Errorf(`ScopedKey("", "k"): got %q, want "k"`, got)
	}
}
