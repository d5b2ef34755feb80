package server

import (
	"net/http"

	"github.com/idemsum/idemsum"
)

// handleMethodNotAllowed answers a route's methods that it does not serve:
// 405 with Allow and a problem.
func handleMethodNotAllowed(allow string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeError(w, r, nil, idemsum.Errorf(emethod, "method %s is not allowed here; allowed: %s", r.Method, allow))
	})
}

// handleNotFound answers a path that no route serves: 404 with a problem.
func handleNotFound() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, nil, idemsum.Errorf(enotFound, "no route %s", r.URL.Path))
	})
}
