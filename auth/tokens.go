package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
)

// Tokens is an immutable set of clients and their token hashes, read from
// a token file by Parse or Load. It is safe for concurrent use. The nil
// *Tokens has no clients.
type Tokens struct {
	entries []entry               // in file order; names and sums unique
	compare func(a, b []byte) int // subtle.ConstantTimeCompare; export_test.go counts calls
}

// entry is one client of a token file.
type entry struct {
	name string
	sum  [sha256.Size]byte
}

// Lookup returns the client whose token is token. It hashes token with
// SHA-256 and compares the hash with every entry in constant time, without
// stopping at a match, so the time it takes depends neither on which
// entry matched nor on whether one did. An empty token matches no client.
func (t *Tokens) Lookup(token string) (client string, ok bool) {
	if t == nil || token == "" {
		return "", false
	}
	sum := sha256.Sum256([]byte(token))
	found := -1
	for i := range t.entries {
		eq := t.compare(sum[:], t.entries[i].sum[:])
		found = subtle.ConstantTimeSelect(eq, i, found)
	}
	if found < 0 {
		return "", false
	}
	return t.entries[found].name, true
}

// Len returns the number of clients.
func (t *Tokens) Len() int {
	if t == nil {
		return 0
	}
	return len(t.entries)
}

// Names returns the clients' names, sorted.
func (t *Tokens) Names() []string {
	if t == nil {
		return nil
	}
	names := make([]string, 0, len(t.entries))
	for _, e := range t.entries {
		names = append(names, e.name)
	}
	slices.Sort(names)
	return names
}

// Hash returns the SHA-256 of token in lowercase hex, as the token file
// holds it.
func Hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// NewToken returns a new token: "isk_" and 32 bytes from crypto/rand in
// unpadded base64url (47 characters in all, valid in a Bearer header).
func NewToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("new token: %w", err)
	}
	return "isk_" + base64.RawURLEncoding.EncodeToString(b), nil
}

// Line returns the token file's line for client name holding token:
// "NAME HASH". It does not check name (see ValidName).
func Line(name, token string) string { return name + " " + Hash(token) }

// ValidName returns an error unless name is 1 to 64 ASCII letters, digits,
// '.', '_' or '-', starting with a letter or a digit.
func ValidName(name string) error {
	ok := len(name) >= 1 && len(name) <= 64
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		ok = alnum || i > 0 && (c == '.' || c == '_' || c == '-')
	}
	if !ok {
		return fmt.Errorf("client name %q: want 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", short(name))
	}
	return nil
}

// short cuts s to 64 bytes for an error message.
func short(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
