package idempotency

import (
	"errors"
	"strings"
)

// MaxKeyLen is the longest key accepted, in bytes.
const MaxKeyLen = 255

// HeaderKey is the request header that carries an idempotency key.
const HeaderKey = "Idempotency-Key"

// ErrInvalidKey reports a key that is empty, too long, or holds a byte
// outside visible ASCII (0x21-0x7E).
var ErrInvalidKey = errors.New("idempotency: invalid key: want 1 to 255 visible ASCII characters")

// ValidKey returns ErrInvalidKey unless key has 1 to MaxKeyLen bytes, each
// a visible ASCII character (0x21-0x7E).
func ValidKey(key string) error {
	if len(key) == 0 || len(key) > MaxKeyLen {
		return ErrInvalidKey
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return ErrInvalidKey
		}
	}
	return nil
}

// ParseHeader parses an Idempotency-Key header value: either a bare token
// or an RFC 8941 structured-field string ("..." with \" and \\ escapes),
// as the IETF draft specifies. The result is validated with ValidKey.
func ParseHeader(v string) (string, error) {
	v = strings.Trim(v, " \t")
	if !strings.HasPrefix(v, `"`) {
		return v, ValidKey(v)
	}
	key, err := unquote(v)
	if err != nil {
		return "", err
	}
	return key, ValidKey(key)
}

// unquote decodes an RFC 8941 sf-string.
func unquote(v string) (string, error) {
	if len(v) < 2 || v[len(v)-1] != '"' {
		return "", ErrInvalidKey
	}
	var b strings.Builder
	for i := 1; i < len(v)-1; i++ {
		c := v[i]
		switch {
		case c == '\\':
			i++
			if i >= len(v)-1 || (v[i] != '"' && v[i] != '\\') {
				return "", ErrInvalidKey
			}
			b.WriteByte(v[i])
		case c == '"':
			return "", ErrInvalidKey
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// ScopedKey returns the identity under which a Guard keeps key for scope
// (its owner, such as an authenticated client): key itself for the empty
// scope, else scope, a space and key. A valid key holds no space, so two
// different (scope, key) pairs never share a scoped key, and the empty
// scope keeps the names an unscoped Guard always used.
func ScopedKey(scope, key string) string {
	if scope == "" {
		return key
	}
	return scope + " " + key
}

// FormatHeader returns key as an Idempotency-Key header value: an RFC 8941
// sf-string, as the IETF draft specifies, which ParseHeader reads back as
// key. A service forwards its request's key to a downstream with it.
func FormatHeader(key string) string {
	var b strings.Builder
	b.Grow(len(key) + 2)
	b.WriteByte('"')
	for i := 0; i < len(key); i++ {
		if key[i] == '"' || key[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(key[i])
	}
	b.WriteByte('"')
	return b.String()
}
