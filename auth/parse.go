package auth

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

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
