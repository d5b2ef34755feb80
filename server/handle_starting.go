package server

import (
	"encoding/json"
	"net/http"

	"github.com/idemsum/idemsum"
)

// StartState is why sumd is still starting, as /readyz tells it.
type StartState struct {
	// MySQL is MySQL's state: "down" (it does not answer), "migrating",
	// "not-migrated" (a migration failed), "bad-identity" (the deployment
	// identity row is malformed), or another word for another failure.
	MySQL string
	// Reason is a sentence for operators, without addresses or secrets;
	// "" for none.
	Reason string
}

// Starting returns the handler sumd serves while it cannot reach, migrate
// or identify MySQL yet: /healthz answers 200 (the process is alive),
// /readyz 503 with status "starting" and state's current answer (MySQL
// "down" when state is nil), and every other request a 503 unavailable
// problem with Retry-After: nothing was added, and a retry later is safe.
// state is called on every /readyz and must be safe for concurrent use.
func Starting(state func() StartState) http.Handler {
	if state == nil {
		state = func() StartState { return StartState{MySQL: "down"} }
	}
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("GET /readyz", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := state()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(readiness{Status: "starting", MySQL: s.MySQL, MySQLReason: s.Reason, Redis: "unknown"})
	}))
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, nil, idemsum.Errorf(idemsum.EUNAVAILABLE,
			"the service is starting and MySQL is not ready yet; nothing was added: retry later"))
	}))
	return mux
}
