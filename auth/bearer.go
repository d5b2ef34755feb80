package auth

import (
	"net/http"
	"strings"
)

// BearerToken returns the token of h's Authorization header if it is an
// RFC 6750 §2.1 bearer credential: the scheme "Bearer" in any case, one or
// more spaces, and a token68 (letters, digits, '-', '.', '_', '~', '+',
// '/', then optionally '=' padding). Any other value, no Authorization
// header, or more than one, gives ok false.
func BearerToken(h http.Header) (token string, ok bool) {
	v := h.Values("Authorization")
	if len(v) != 1 {
		return "", false
	}
	scheme, rest, found := strings.Cut(v[0], " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimLeft(rest, " ")
	if !isToken68(token) {
		return "", false
	}
	return token, true
}

// isToken68 reports whether s is an RFC 7235 token68.
func isToken68(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("-._~+/", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}
