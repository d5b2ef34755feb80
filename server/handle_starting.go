package server

import (
	"encoding/json"
	"net/http"
)

// Starting returns the handler sumd serves while it cannot reach or
// migrate MySQL yet: /healthz answers 200 (the process is alive), /readyz
// 503 with status "starting", and every other request a 503 problem with
// Retry-After, so nothing is added and a retry later is safe.
func Starting() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("GET /readyz", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(readiness{Status: "starting", MySQL: "down", Redis: "unknown"})
	}))
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1")
		writeProblem(w, http.StatusServiceUnavailable, "unavailable",
			"the service is starting and cannot reach MySQL yet; nothing was added: retry later")
	}))
	return mux
}
