// Package server is the HTTP edge of idemsum: the routes (routes.go), one
// handle_*.go per route, request decoding (decode.go), the mapping of
// errors to RFC 9457 problems with their outcome member (outcome.go), the
// problems that replace net/http's own plain-text answers (listener.go),
// and the metrics and log of every request (observe.go, logsample.go).
package server

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"idemsum"
)

// Deps are what the handlers need.
type Deps struct {
	Service *Service
	// PingMySQL reports whether MySQL answers.
	PingMySQL func(ctx context.Context) error
	// RedisState reports whether Redis can take claims right now: "up",
	// or why not ("unreachable", "oom", "readonly", ...); nil when Redis is
	// disabled.
	RedisState func(ctx context.Context) string
	Logger     *slog.Logger
	// Access decides who may add and read (API tokens, cross-origin rule).
	Access Access
	// MaxWait caps the wait a client may ask for with "Prefer: wait=S".
	MaxWait time.Duration
	// Metrics, when set, count and time requests and count refusals
	// (metrics.go); Gatherer, when set, is served on GET /metrics.
	Metrics  *Metrics
	Gatherer prometheus.Gatherer
	// Now is the clock of the page's stats and of the log's sampling of
	// refused requests; nil means time.Now.
	Now func() time.Time

	stats *stats // GET /stats; NewServer makes it
}

// NewServer returns the idemsum HTTP handler.
func NewServer(d Deps) http.Handler {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	d.stats = newStats(d.Now)
	mux := http.NewServeMux()
	addRoutes(mux, d)
	return instrument(d.Metrics, d.stats, d.Logger, newRefusalLog(refusalEvery, d.Now), recoverer(d.Logger, mux))
}

// recoverer answers 500 instead of dropping the connection when a handler
// panics, and logs the panic.
func recoverer(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == http.ErrAbortHandler {
				panic(v) // net/http aborts the response on purpose
			}
			if v != nil {
				log.Error("panic", "path", r.URL.Path, "panic", v)
				writeError(w, r, nil, idemsum.Errorf(einternal, "internal error"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}
