package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// observation is what a handler tells the instrumenting middleware about
// its request.
type observation struct {
	outcome string
	level   slog.Level
	refusal bool   // refused for who sent it: sampled WARN (refusalLog)
	key     string // hashed only if the line is logged
	client  string // the authenticated client, "" for anonymous
}

type observationKey struct{}

func observed(r *http.Request) *observation {
	o, _ := r.Context().Value(observationKey{}).(*observation)
	if o == nil {
		return &observation{} // not instrumented: notes go nowhere
	}
	return o
}

// note records a successful outcome of r (added, replayed, read) and, when
// key is not empty, the key for the log line (which shows a hash of it,
// never the key).
func note(r *http.Request, outcome, key string) {
	o := observed(r)
	o.outcome, o.level = outcome, slog.LevelInfo
	noteKey(r, key)
}

// noteKey records key for the log line, which shows only a hash of it.
func noteKey(r *http.Request, key string) {
	if key != "" {
		observed(r).key = key
	}
}

// noteClient records the authenticated client of r for the log line.
func noteClient(r *http.Request, client string) { observed(r).client = client }

// keyHash is the first 12 hex digits of key's SHA-256, or "" for none.
func keyHash(key string) string {
	if key == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:6])
}

// noteOutcome records the outcome of a failed request, as outcomes says.
func noteOutcome(r *http.Request, o outcome) {
	obs := observed(r)
	obs.outcome, obs.level, obs.refusal = o.metric, o.level, o.refusal
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// instrument counts and times every request (metrics, the page's stats)
// and logs one line for it, and for refused ones the sampled WARN of
// refusals.
func instrument(m *Metrics, st *stats, log *slog.Logger, refusals *refusalLog, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		o := &observation{}
		sw := &statusWriter{ResponseWriter: w}
		r = r.WithContext(context.WithValue(r.Context(), observationKey{}, o))
		next.ServeHTTP(sw, r)
		elapsed := time.Since(start)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		if o.outcome == "" {
			o.outcome, o.level = outcomeOfStatus(sw.status)
		}
		traceRequest(r, route, o.outcome)
		if r.Method != http.MethodOptions && (strings.HasSuffix(route, "/sum") || strings.HasSuffix(route, "/test-sum-action")) {
			st.observe(o.outcome, sw.status, elapsed)
		}
		m.request(route, o.outcome, o.client, elapsed)
		if log.Enabled(r.Context(), o.level) {
			attrs := []slog.Attr{slog.String("method", r.Method), slog.String("route", route),
				slog.Int("status", sw.status), slog.String("outcome", o.outcome),
				slog.String("key_sha256", keyHash(o.key)), slog.Duration("duration", elapsed)}
			if o.client != "" {
				attrs = append(attrs, slog.String("client", o.client))
			}
			log.LogAttrs(r.Context(), o.level, "request", attrs...)
		}
		if o.refusal {
			logRefusal(r, log, refusals, o.outcome, sw.status)
		}
	})
}

// logRefusal notes a refused request and logs the sampled WARN line when
// one is due.
func logRefusal(r *http.Request, log *slog.Logger, refusals *refusalLog, outcome string, status int) {
	if n := refusals.note(outcome); n > 0 {
		log.LogAttrs(r.Context(), slog.LevelWarn, "requests refused", slog.String("outcome", outcome),
			slog.Int("status", status), slog.Int("refused", n), slog.Duration("every", refusals.every))
	}
}
