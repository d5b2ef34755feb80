// Package server is the HTTP edge of idemsum:
//
//   - the handler: NewServer and its Deps (server.go); every route
//     (routes.go) and one handle_*.go per route: handle_sum.go (adding and
//     reading), handle_health.go (/healthz, /readyz), handle_stats.go,
//     handle_page.go (the page, web/), handle_openapi.go (openapi.json),
//     handle_errors.go (404, 405); handle_starting.go is the handler
//     served while sumd starts;
//   - the write path's use case, Service (service.go), which joins the
//     domain's Adder to the idempotency Guard;
//   - the input: request decoding (decode.go, decode_json.go) and
//     "Prefer: wait" (prefer.go);
//   - who may add and read, Access (access.go): the bearer check
//     (bearer.go), the cross-origin rule and CORS (cors.go);
//   - the answers: the mapping of errors to RFC 9457 problems with their
//     outcome member (outcome.go), and the problems that replace
//     net/http's own plain-text answers (listener.go);
//   - what is seen of each request: its metrics (metrics.go), log line and
//     span (instrument.go, trace.go), the sampled log of refusals
//     (logsample.go) and the page's figures (stats.go);
//   - the http.Server with its timeouts and graceful shutdown
//     (httpserver.go), and the pprof server (pprof.go).
package server

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/idemsum/idemsum"
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
	// Draining reports whether the instance is draining before it stops:
	// /readyz then answers 503 "draining" while every route still serves
	// (docs/operations.md#shutdown-and-drain). nil means never.
	Draining func() bool
	Logger   *slog.Logger
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
