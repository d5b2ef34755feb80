package server

import (
	"errors"
	"net/http"
	"strings"

	"github.com/idemsum/idemsum/auth"
)

// The failures of the bearer check. ErrNoToken and ErrBadToken are
// answered 401; ErrTokensNotChecked 503, since another instance may check
// the token.
var (
	// ErrNoToken reports a request without a usable Authorization: Bearer
	// to an instance that requires one.
	ErrNoToken = errors.New("missing bearer token")
	// ErrBadToken reports a bearer credential that names no client.
	ErrBadToken = errors.New("unknown bearer token")
	// ErrTokensNotChecked reports a bearer credential sent to an instance
	// that runs without API tokens, which cannot tell whose key it is.
	ErrTokensNotChecked = errors.New("bearer token sent to an instance without API tokens")
)

// authenticate names the client of a request: the scope of its keys. The
// scope is a function of the request alone, the same on every instance
// whatever its settings: the client of a valid bearer token, or the
// anonymous client "" for a request without a bearer credential. An
// instance that cannot apply that function refuses the request instead,
// so a key never changes scope while tokens are turned on or off one
// instance at a time:
//   - without tokens, a bearer credential is refused (ErrTokensNotChecked);
//   - with tokens, a request without one is refused (ErrNoToken), unless
//     AllowAnonymous, and one that names no client always (ErrBadToken).
func (a Access) authenticate(h http.Header) (string, error) {
	bearer := hasBearer(h)
	if a.Tokens == nil {
		if bearer {
			return "", ErrTokensNotChecked
		}
		return "", nil
	}
	if !bearer {
		switch {
		case a.AllowAnonymous:
			return "", nil
		case len(h.Values("Authorization")) == 0:
			return "", ErrNoToken
		} // another scheme, such as Basic: not a token of a client
	}
	token, ok := auth.BearerToken(h)
	if !ok {
		return "", ErrBadToken
	}
	client, ok := a.Tokens().Lookup(token)
	if !ok {
		return "", ErrBadToken
	}
	return client, nil
}

// hasBearer reports whether any Authorization header of h names the
// Bearer scheme (in any case), well-formed or not.
func hasBearer(h http.Header) bool {
	for _, v := range h.Values("Authorization") {
		scheme, _, _ := strings.Cut(strings.TrimLeft(v, " "), " ")
		if strings.EqualFold(scheme, "Bearer") {
			return true
		}
	}
	return false
}
