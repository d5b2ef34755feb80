package server

import (
	"net/http"
	"strings"

	"github.com/idemsum/idemsum"
)

// CORS lets the pages of Access.AllowedOrigins call /sum and the legacy
// URL with fetch: JSON bodies, Idempotency-Key, Authorization, Prefer. An
// origin is listed only as given (the exact Origin value, as
// http.CrossOriginProtection compares trusted origins). No credentials are
// allowed: tokens travel in Authorization, which the page's script sets,
// never in cookies.
const (
	corsMethods = "GET, POST"
	corsMaxAge  = "600" // seconds a browser may reuse a preflight's answer
	// corsExposed are the response headers a listed page's script may read
	// besides the CORS-safelisted ones.
	corsExposed = "Idempotent-Replayed, Idempotency-Key-Expires, Retry-After, Preference-Applied, WWW-Authenticate"
)

// corsHeaders are the request headers a preflight may ask for (canonical
// form).
var corsHeaders = []string{"Content-Type", "Idempotency-Key", "Authorization", "Prefer"}

var (
	varyOrigin    = []string{"Origin"}
	exposedValue  = []string{corsExposed}
	preflightVary = "Access-Control-Request-Method, Access-Control-Request-Headers"
)

// listed returns the set of AllowedOrigins.
func (a Access) listed() map[string]bool {
	m := make(map[string]bool, len(a.AllowedOrigins))
	for _, o := range a.AllowedOrigins {
		m[o] = true
	}
	return m
}

// cors returns the middleware of every handler of /sum and the legacy
// URL. Each response varies on Origin; one to a listed Origin, success or
// problem, names it in Access-Control-Allow-Origin and exposes
// corsExposed. It is set before next runs, so whatever next answers
// carries it; other origins get no CORS header.
func (a Access) cors() func(http.Handler) http.Handler {
	listed := a.listed()
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h["Vary"] = varyOrigin
			if o := originOf(r); listed[o] {
				h["Access-Control-Allow-Origin"] = []string{o}
				h["Access-Control-Expose-Headers"] = exposedValue
			}
			next.ServeHTTP(w, r)
		})
	}
}

// handleOptions answers OPTIONS on a route that allows the methods allow.
// A preflight (Origin and Access-Control-Request-Method) from a listed
// origin is 204 with what the route allows; from any other origin it is
// the 403 cross-origin problem, without CORS headers, so the browser
// never sends the request. Any other OPTIONS is 204 with Allow. Neither
// looks at tokens (a preflight carries none) nor at the request's input,
// and nothing is added.
func (a Access) handleOptions(d Deps, allow string) http.Handler {
	listed := a.listed()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Allow", allow)
		origin, method := originOf(r), r.Header.Get("Access-Control-Request-Method")
		if origin == "" || method == "" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.Add("Vary", preflightVary)
		if !listed[origin] {
			a.denied(d, "cross_origin")
			writeError(w, r, d.Logger, idemsum.Errorf(ecrossOrigin, "this origin may not call the service from a browser; -allowed-origins lists those that may"))
			return
		}
		h.Set("Access-Control-Allow-Methods", corsMethods)
		if asked := allowedHeaders(r.Header.Values("Access-Control-Request-Headers")); asked != "" {
			h.Set("Access-Control-Allow-Headers", asked)
		}
		h.Set("Access-Control-Max-Age", corsMaxAge)
		w.WriteHeader(http.StatusNoContent)
	})
}

// originOf returns r's Origin, "" for none or several.
func originOf(r *http.Request) string {
	if o := r.Header["Origin"]; len(o) == 1 {
		return o[0]
	}
	return ""
}

// allowedHeaders returns those of the comma-separated header names in
// lists that corsHeaders holds, canonical and comma-separated: the
// browser refuses the request if one it asked for is missing.
func allowedHeaders(lists []string) string {
	var out []string
	for _, l := range lists {
		for name := range strings.SplitSeq(l, ",") {
			name = http.CanonicalHeaderKey(strings.TrimSpace(name))
			for _, ok := range corsHeaders {
				if name == ok {
					out = append(out, name)
				}
			}
		}
	}
	return strings.Join(out, ", ")
}
