package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/idemsum/idemsum"
	"github.com/idemsum/idemsum/auth"
)

// Access decides who may add and read: API tokens and the cross-origin
// rule. The zero Access lets everyone in as the anonymous client, but for
// requests that carry a bearer token (see authenticate), and refuses
// cross-origin browser requests that could add.
type Access struct {
	// Tokens, when set, returns the current API tokens (auth.Set.Current):
	// a request must then carry the bearer token of a client, whose keys
	// are its own. nil means no tokens: every request is the anonymous
	// client "".
	Tokens func() *auth.Tokens
	// AllowAnonymous, with Tokens, also serves requests without a bearer
	// credential, as the anonymous client: the step between no tokens and
	// tokens required when turning them on or off across a deployment.
	AllowAnonymous bool
	// AllowedOrigins are the origins ("https://app.example") besides the
	// service's own whose pages may add from a browser.
	AllowedOrigins []string
	// OnDenied, when set, is told of each refused request: reason
	// "missing_token", "bad_token", "tokens_not_checked" or "cross_origin".
	OnDenied func(reason string)
}

type clientKey struct{}

// clientOf returns the client that authenticated r's context, "" for the
// anonymous client.
func clientOf(ctx context.Context) string {
	c, _ := ctx.Value(clientKey{}).(string)
	return c
}

// guard returns the middleware of the adding and reading routes: it
// refuses a cross-origin browser request that could add (403; adds is
// whether the route's GET adds too), then a request without a valid token
// (401), before any input is read or any key looked up, and puts the
// client's name in the request's context.
func (a Access) guard(d Deps, adds bool) func(http.Handler) http.Handler {
	cop, err := a.protection()
	if err != nil {
		panic(err) // CheckOrigins refuses it first
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := crossOrigin(cop, r, adds); err != nil {
				a.denied(d, "cross_origin")
				writeError(w, r, d.Logger, idemsum.Errorf(ecrossOrigin, "cross-origin requests may not add; the service's own page and -allowed-origins may"))
				return
			}
			client, err := a.authenticate(r.Header)
			if err != nil {
				a.unauthenticated(w, r, d, err)
				return
			}
			noteClient(r, client)
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientKey{}, client)))
		})
	}
}

// CheckOrigins returns an error naming the first of origins that is not
// an origin ("scheme://host[:port]", nothing else) as a browser sends it in
// Origin: lower case, without the scheme's default port. Origins are
// matched exactly, so any other spelling would silently never match.
func CheckOrigins(origins []string) error {
	if _, err := (Access{AllowedOrigins: origins}).protection(); err != nil {
		return err
	}
	for _, o := range origins {
		u, _ := url.Parse(o) // protection parsed it
		if o != strings.ToLower(o) || (u.Scheme == "https" && u.Port() == "443") || (u.Scheme == "http" && u.Port() == "80") {
			return fmt.Errorf("origin %q: write it as a browser sends it: lower case, without the default port", o)
		}
	}
	return nil
}

func (a Access) protection() (*http.CrossOriginProtection, error) {
	cop := http.NewCrossOriginProtection()
	for _, o := range a.AllowedOrigins {
		if err := cop.AddTrustedOrigin(o); err != nil {
			return nil, err
		}
	}
	return cop, nil
}

// crossOrigin applies net/http's CrossOriginProtection (Sec-Fetch-Site,
// else Origin against Host) to r. It passes GET and HEAD by design, so a
// route whose GET adds is checked as if it were a POST. An older browser
// that sends neither header may still send a Referer: its origin is then
// checked as the Origin would be (its host against Host, else the listed
// origins), and a Referer that is not a URL with a host is refused.
// Requests without any of the three (curl, servers) pass.
func crossOrigin(cop *http.CrossOriginProtection, r *http.Request, adds bool) error {
	ref := r.Header.Get("Referer")
	byReferer := ref != "" && r.Header.Get("Sec-Fetch-Site") == "" && r.Header.Get("Origin") == ""
	getAdds := adds && (r.Method == http.MethodGet || r.Method == http.MethodHead)
	if !byReferer && !getAdds {
		return cop.Check(r)
	}
	r2 := *r
	if getAdds {
		r2.Method = http.MethodPost
	}
	if byReferer {
		u, err := url.Parse(ref)
		if err != nil || u.Host == "" {
			return errBadReferer
		}
		r2.Header = r.Header.Clone()
		r2.Header.Set("Origin", u.Scheme+"://"+u.Host)
	}
	return cop.Check(&r2)
}

// errBadReferer refuses a request that could add from a page whose
// Referer names no origin.
var errBadReferer = errors.New("cross-origin check: the Referer is not a URL with a host")

// unauthenticated answers a request that failed the bearer check.
func (a Access) unauthenticated(w http.ResponseWriter, r *http.Request, d Deps, err error) {
	if errors.Is(err, ErrTokensNotChecked) {
		a.denied(d, "tokens_not_checked")
		writeError(w, r, d.Logger, idemsum.Errorf(etokensNotChecked, "this instance runs without API tokens, so it cannot tell whose key this is; nothing was added: retry on an instance with -auth-tokens, or send no Authorization header"))
		return
	}
	challenge := `Bearer realm="idemsum"`
	reason, detail := "missing_token", "this service needs an API token: send Authorization: Bearer <token>"
	if errors.Is(err, ErrBadToken) {
		challenge += `, error="invalid_token"`
		reason, detail = "bad_token", "the API token is not valid"
	}
	a.denied(d, reason)
	w.Header().Set("WWW-Authenticate", challenge)
	writeError(w, r, d.Logger, idemsum.Errorf(eunauthenticated, "%s", detail))
}

// denied counts a request refused for reason in d.Metrics and tells
// OnDenied.
func (a Access) denied(d Deps, reason string) {
	d.Metrics.refused(reason)
	if a.OnDenied != nil {
		a.OnDenied(reason)
	}
}
