package auth_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/idemsum/idemsum/auth"
)

// h is the hash of token tok, as a token file holds it.
func h(tok string) string { return auth.Hash(tok) }

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		file  string
		names []string
	}{
		{"one client", "billing " + h("a") + "\n", []string{"billing"}},
		{"no final newline", "billing " + h("a"), []string{"billing"}},
		{"comments and blank lines", "# clients\n\n  # indented comment\nbilling " + h("a") + "\n   \n#x " + h("b") + "\nops " + h("c") + "\n", []string{"billing", "ops"}},
		{"CRLF", "# c\r\nbilling " + h("a") + "\r\n\r\nops " + h("c") + "\r\n", []string{"billing", "ops"}},
		{"tabs and runs of spaces", "\tbilling\t\t" + h("a") + "  \nops    " + h("c") + "\t\n", []string{"billing", "ops"}},
		{"uppercase hash", "billing " + strings.ToUpper(h("a")) + "\n", []string{"billing"}},
		{"names sorted", "zed " + h("z") + "\nalpha " + h("a") + "\nMid " + h("m") + "\n", []string{"Mid", "alpha", "zed"}},
		{"name characters", "a1.b_c-D " + h("a") + "\n9 " + h("b") + "\n", []string{"9", "a1.b_c-D"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			toks, err := auth.Parse(strings.NewReader(tt.file), "tokens.txt")
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := toks.Names(); !slices.Equal(got, tt.names) {
				t.Errorf("Names() = %q, want %q", got, tt.names)
			}
			if got := toks.Len(); got != len(tt.names) {
				t.Errorf("Len() = %d, want %d", got, len(tt.names))
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	good := "billing " + h("a") + "\n"
	tests := []struct {
		name string
		file string
		want string // the error starts with this
	}{
		{"empty", "", "tokens.txt: no clients"},
		{"only comments", "# nobody yet\n\n  \n", "tokens.txt: no clients"},
		{"one field", good + "ops\n", `tokens.txt:2: want "NAME SHA256-HEX", got 1 fields`},
		{"three fields", "# c\n\nbilling " + h("a") + " extra\n", `tokens.txt:3: want "NAME SHA256-HEX", got 3 fields`},
		{"trailing comment", good + "ops " + h("b") + " # ops team\n", `tokens.txt:2: want "NAME SHA256-HEX", got 5 fields`},
		{"bad name", good + "a/b " + h("b") + "\n", `tokens.txt:2: client name "a/b": want 1 to 64`},
		{"name starting with a dot", good + ".ops " + h("b") + "\n", `tokens.txt:2: client name ".ops"`},
		{"name starting with a dash", "-ops " + h("b") + "\n", `tokens.txt:1: client name "-ops"`},
		{"name of 65", strings.Repeat("n", 65) + " " + h("b") + "\n", `tokens.txt:1: client name "` + strings.Repeat("n", 64) + `..."`},
		{"non-ASCII name", "clé " + h("b") + "\n", `tokens.txt:1: client name "clé"`},
		{"short hash", good + "\n\n\nops " + h("b")[:63] + "\n", "tokens.txt:5: hash is not 64 hex digits"},
		{"long hash", "ops " + h("b") + "0\n", "tokens.txt:1: hash is not 64 hex digits"},
		{"not hex", "ops " + strings.Repeat("g", 64) + "\n", "tokens.txt:1: hash is not 64 hex digits"},
		{"a token instead of its hash", "ops isk_abc\n", "tokens.txt:1: hash is not 64 hex digits: this looks like a token"},
		{"duplicate name", "# c\n" + good + "\n\n\nbilling " + h("b") + "\n", `tokens.txt:6: client "billing" already defined on line 2`},
		{"duplicate hash", good + "ops " + strings.ToUpper(h("a")) + "\n", `tokens.txt:2: client "ops" has the same hash (token) as client "billing" on line 1`},
		{"line too long", good + "ops " + strings.Repeat("x", 70000) + "\n", "tokens.txt:2: line longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			toks, err := auth.Parse(strings.NewReader(tt.file), "tokens.txt")
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("Parse = %v, %v; want an error starting %q", toks, err, tt.want)
			}
		})
	}
}

func TestValidName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ok   bool
	}{
		{"a", true},
		{"billing", true},
		{"Billing-2.prod_eu", true},
		{"0", true},
		{strings.Repeat("x", 64), true},
		{"", false},
		{strings.Repeat("x", 65), false},
		{"a b", false},
		{"a\tb", false},
		{".hidden", false},
		{"_x", false},
		{"-x", false},
		{"a/b", false},
		{"a:b", false},
		{"é", false},
		{"a\x00", false},
	}
	for _, tt := range tests {
		err := auth.ValidName(tt.name)
		if got := err == nil; got != tt.ok {
			t.Errorf("ValidName(%q) = %v, want ok %v", tt.name, err, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "client name") {
			t.Errorf("ValidName(%q) = %q, want it to say client name", tt.name, err)
		}
	}
}

func TestHash(t *testing.T) {
	t.Parallel()
	const want = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" // sha256sum of "test"
	if got := auth.Hash("test"); got != want {
		t.Errorf("Hash(test) = %s, want %s", got, want)
	}
	if got := auth.Line("billing", "test"); got != "billing "+want {
		t.Errorf("Line(billing, test) = %q, want %q", got, "billing "+want)
	}
}

// TestNewToken checks the format of new tokens, that they differ, and
// that Line's output parses into Tokens that find them.
func TestNewToken(t *testing.T) {
	t.Parallel()
	format := regexp.MustCompile(`^isk_[A-Za-z0-9_-]{43}$`)
	seen := map[string]bool{}
	var file strings.Builder
	for i := range 100 {
		tok, err := auth.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		if !format.MatchString(tok) {
			t.Fatalf("NewToken() = %q, want isk_ and 43 base64url characters", tok)
		}
		if seen[tok] {
			t.Fatalf("NewToken() returned %q twice", tok)
		}
		seen[tok] = true
		file.WriteString(auth.Line(fmt.Sprintf("client-%d", i), tok) + "\n")
	}
	toks, err := auth.Parse(strings.NewReader(file.String()), "new.txt")
	if err != nil {
		t.Fatalf("Parse of Line's output: %v", err)
	}
	if toks.Len() != len(seen) {
		t.Fatalf("Len() = %d, want %d", toks.Len(), len(seen))
	}
	for tok := range seen {
		if _, ok := toks.Lookup(tok); !ok {
			t.Errorf("Lookup(%q): no client, want the one Line wrote", tok)
		}
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "tokens.txt")
	bad := filepath.Join(dir, "bad.txt")
	writeFile(t, good, auth.Line("billing", "secret")+"\n")
	writeFile(t, bad, auth.Line("billing", "secret")+"\nops\n")
	toks, err := auth.Load(good)
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := toks.Lookup("secret"); !ok || c != "billing" {
		t.Errorf("Lookup(secret) = %q, %v; want billing", c, ok)
	}
	if _, err := auth.Load(bad); err == nil || !strings.HasPrefix(err.Error(), bad+":2: ") {
		t.Errorf("Load(bad) = %v, want an error starting %s:2:", err, bad)
	}
	missing := filepath.Join(dir, "missing.txt")
	if _, err := auth.Load(missing); err == nil || !os.IsNotExist(err) || !strings.Contains(err.Error(), missing) {
		t.Errorf("Load(missing) = %v, want a not-exist error naming the file", err)
	}
}

// writeFile writes content to path, replacing it.
func writeFile(tb testing.TB, path, content string) {
	tb.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		tb.Fatal(err)
	}
}
