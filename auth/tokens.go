package auth

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
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

// Load reads the token file at path (see Parse).
func Load(path string) (*Tokens, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(f, path)
}

// Parse reads a token file (see the package doc) from r. Its errors start
// with "source:line: ", or "source: " for a file without clients.
func Parse(r io.Reader, source string) (*Tokens, error) {
	p := parser{source: source, lines: map[string]int{}, names: map[[sha256.Size]byte]string{}}
	sc := bufio.NewScanner(r)
	n := 1
	for ; sc.Scan(); n++ {
		if err := p.line(n, sc.Text()); err != nil {
			return nil, err
		}
	}
	if errors.Is(sc.Err(), bufio.ErrTooLong) {
		return nil, p.errorf(n, "line longer than %d bytes", bufio.MaxScanTokenSize)
	} else if sc.Err() != nil {
		return nil, fmt.Errorf("%s: %w", source, sc.Err())
	}
	if len(p.entries) == 0 {
		return nil, fmt.Errorf("%s: no clients (a token file without clients would refuse every request)", source)
	}
	return &Tokens{entries: p.entries, compare: subtle.ConstantTimeCompare}, nil
}

// parser reads a token file line by line.
type parser struct {
	source  string
	entries []entry
	lines   map[string]int               // line of each name
	names   map[[sha256.Size]byte]string // name of each hash
}

// line adds the client on line n, s, if it is not blank or a comment.
func (p *parser) line(n int, s string) error {
	f := strings.FieldsFunc(strings.TrimSuffix(s, "\r"), func(r rune) bool { return r == ' ' || r == '\t' })
	if len(f) == 0 || strings.HasPrefix(f[0], "#") {
		return nil
	}
	if len(f) != 2 {
		return p.errorf(n, "want \"NAME SHA256-HEX\", got %d fields", len(f))
	}
	name := f[0]
	if err := ValidName(name); err != nil {
		return p.errorf(n, "%v", err)
	}
	sum, err := parseSum(f[1])
	if err != nil {
		return p.errorf(n, "%v", err)
	}
	if prev, dup := p.lines[name]; dup {
		return p.errorf(n, "client %q already defined on line %d", name, prev)
	}
	if other, dup := p.names[sum]; dup {
		return p.errorf(n, "client %q has the same hash (token) as client %q on line %d", name, other, p.lines[other])
	}
	p.lines[name], p.names[sum] = n, name
	p.entries = append(p.entries, entry{name: name, sum: sum})
	return nil
}

// errorf returns an error naming the file and line n.
func (p *parser) errorf(n int, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", p.source, n, fmt.Sprintf(format, args...))
}

// parseSum decodes a SHA-256 of 64 hex digits in either case.
func parseSum(s string) (sum [sha256.Size]byte, err error) {
	if strings.HasPrefix(s, "isk_") {
		return sum, errors.New("hash is not 64 hex digits: this looks like a token; the file takes its hash (sumd token prints the line)")
	}
	if len(s) != hex.EncodedLen(sha256.Size) {
		return sum, fmt.Errorf("hash is not 64 hex digits (got %d characters)", len(s))
	}
	if _, err := hex.Decode(sum[:], []byte(s)); err != nil {
		return sum, errors.New("hash is not 64 hex digits")
	}
	return sum, nil
}
