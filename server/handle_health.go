package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

// handleHealthz answers 200 while the process is alive.
func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
}

// ErrMySQLReadOnly is what Deps.PingMySQL returns (wrapped) when MySQL
// answers but is marked read-only: a replica, or a primary being demoted.
// /readyz then says "mysql":"readonly".
var ErrMySQLReadOnly = errors.New("mysql is read-only")

// readiness is the body of /readyz.
type readiness struct {
	Status      string `json:"status"`                 // ready, degraded (Redis down), unavailable, starting or draining
	MySQL       string `json:"mysql"`                  // up, down or readonly; while starting, StartState.MySQL
	MySQLReason string `json:"mysql_reason,omitempty"` // while starting, StartState.Reason
	Redis       string `json:"redis"`                  // up, down or disabled; unknown while starting
	RedisReason string `json:"redis_reason,omitempty"` // why Redis is down: unreachable, oom, readonly, ...
}

// handleReadyz answers 200 when MySQL answers and takes writes, 503
// otherwise, and says whether Redis can take claims, and if not why;
// without Redis the service is degraded but correct. While the instance
// drains before it stops (Deps.Draining) it answers 503 with status
// "draining", whatever MySQL and Redis say.
func handleReadyz(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		rd := readiness{Status: "ready", MySQL: "up", Redis: "disabled"}
		if d.RedisState != nil {
			rd.Redis = "up"
			if state := d.RedisState(ctx); state != "up" {
				rd.Redis, rd.RedisReason, rd.Status = "down", state, "degraded"
			}
		}
		status := http.StatusOK
		if err := d.PingMySQL(ctx); err != nil {
			d.Logger.Warn("readyz: mysql down", "err", err)
			rd.MySQL, rd.Status, status = "down", "unavailable", http.StatusServiceUnavailable
			if errors.Is(err, ErrMySQLReadOnly) {
				rd.MySQL = "readonly"
			}
			w.Header().Set("Retry-After", "1")
		}
		if d.Draining != nil && d.Draining() {
			rd.Status, status = "draining", http.StatusServiceUnavailable
			w.Header().Set("Retry-After", "1") // as every 503
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(rd)
	})
}
