package auth_test

import (
	"crypto/subtle"
	"fmt"
	"strings"
	"testing"

	"github.com/idemsum/idemsum/auth"
)

// parse parses file as tokens.txt, failing tb on an error.
func parse(tb testing.TB, file string) *auth.Tokens {
	tb.Helper()
	toks, err := auth.Parse(strings.NewReader(file), "tokens.txt")
	if err != nil {
		tb.Fatal(err)
	}
	return toks
}

// oneDigitOff is the hash of tok with its last hex digit changed.
func oneDigitOff(tok string) string {
	sum := auth.Hash(tok)
	last := "0"
	if sum[63] == '0' {
		last = "1"
	}
	return sum[:63] + last
}

func TestLookup(t *testing.T) {
	t.Parallel()
	toks := parse(t, "billing "+auth.Hash("tok-billing")+"\n"+
		"ops "+strings.ToUpper(auth.Hash("tok-ops"))+"\n"+
		"near "+oneDigitOff("tok-near")+"\n")
	tests := []struct {
		token  string
		client string // empty: no client
	}{
		{"tok-billing", "billing"},
		{"tok-ops", "ops"}, // the file holds its hash in uppercase
		{"tok-near", ""},   // the file holds its hash with one digit off
		{"tok-billing ", ""},
		{"Tok-billing", ""},
		{"tok-bill", ""},
		{"wrong", ""},
		{"", ""},
		{auth.Hash("tok-billing"), ""}, // the hash is not the token
	}
	for _, tt := range tests {
		client, ok := toks.Lookup(tt.token)
		if client != tt.client || ok != (tt.client != "") {
			t.Errorf("Lookup(%q) = %q, %v; want %q, %v", tt.token, client, ok, tt.client, tt.client != "")
		}
	}
}

func TestLookupOfNilTokens(t *testing.T) {
	t.Parallel()
	var toks *auth.Tokens
	if c, ok := toks.Lookup("x"); ok {
		t.Errorf("nil Tokens: Lookup(x) = %q, true; want no client", c)
	}
	if n := toks.Len(); n != 0 {
		t.Errorf("nil Tokens: Len() = %d, want 0", n)
	}
	if names := toks.Names(); len(names) != 0 {
		t.Errorf("nil Tokens: Names() = %q, want none", names)
	}
}

// TestLookupComparesEveryEntry counts Lookup's comparisons: it must
// compare with every entry whether the token matches the first, the last,
// or none, so that its time tells nothing about which. A loop that
// returns at the match fails here.
func TestLookupComparesEveryEntry(t *testing.T) {
	t.Parallel()
	const n = 5
	var file strings.Builder
	for i := range n {
		fmt.Fprintf(&file, "c%d %s\n", i, auth.Hash(fmt.Sprint("tok", i)))
	}
	toks := parse(t, file.String())
	tests := []struct {
		token, client string
	}{
		{"tok0", "c0"},
		{"tok2", "c2"},
		{"tok4", "c4"},
		{"none", ""},
	}
	for _, tt := range tests {
		calls := 0
		counted := auth.WithCompare(toks, func(a, b []byte) int {
			calls++
			return subtle.ConstantTimeCompare(a, b)
		})
		client, _ := counted.Lookup(tt.token)
		if client != tt.client {
			t.Errorf("Lookup(%q) = %q, want %q", tt.token, client, tt.client)
		}
		if calls != n {
			t.Errorf("Lookup(%q) compared %d hashes, want all %d", tt.token, calls, n)
		}
	}
}

func BenchmarkLookup(b *testing.B) {
	var file strings.Builder
	for i := range 100 {
		fmt.Fprintf(&file, "c%d %s\n", i, auth.Hash(fmt.Sprint("tok", i)))
	}
	toks := parse(b, file.String())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			toks.Lookup("tok50")
		}
	})
}
