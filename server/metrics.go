package server

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the metrics of the HTTP edge and of its Service: requests
// by route and outcome, their latency, authenticated clients' requests,
// refusals by the access rules, and lease overruns of the Service's
// Guard. Names, labels and help texts are what dashboards and alerts read.
// Register them on an injected prometheus.Registerer with NewMetrics; no
// globals. A nil *Metrics counts nothing.
type Metrics struct {
	requests *prometheus.CounterVec   // idemsum_requests_total{route,outcome}
	duration *prometheus.HistogramVec // idemsum_request_duration_seconds{route,outcome}
	clients  *prometheus.CounterVec   // idemsum_client_requests_total{client,outcome}
	denied   *prometheus.CounterVec   // idemsum_auth_denied_total{reason}
	overruns prometheus.Counter       // idemsum_lease_overruns_total
}

// deniedReasons are the reasons of idemsum_auth_denied_total, each shown
// from the start (at 0).
var deniedReasons = []string{"missing_token", "bad_token", "tokens_not_checked", "cross_origin"}

// NewMetrics creates the metrics and registers them on reg:
// idemsum_requests_total{route,outcome},
// idemsum_request_duration_seconds{route,outcome},
// idemsum_client_requests_total{client,outcome} for authenticated clients,
// idemsum_auth_denied_total{reason} and idemsum_lease_overruns_total.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idemsum_requests_total",
			Help: "HTTP requests by route and outcome (added, replayed, read, in_flight, mismatch, invalid, unauthenticated, forbidden, unavailable, unknown, other).",
		}, []string{"route", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "idemsum_request_duration_seconds",
			Help:    "HTTP request latency by route and outcome.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "outcome"}),
		clients: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idemsum_client_requests_total",
			Help: "Requests of authenticated clients (API tokens) by client name and outcome.",
		}, []string{"client", "outcome"}),
		denied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idemsum_auth_denied_total",
			Help: "Requests refused before anything was looked up: missing_token, bad_token (401), tokens_not_checked (503: a bearer token to an instance without tokens) or cross_origin (403).",
		}, []string{"reason"}),
		overruns: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "idemsum_lease_overruns_total",
			Help: "Keyed additions whose holder finished after its claim's lease ran out, so another request could take the key over meanwhile (MySQL's unique key then decides).",
		}),
	}
	for _, r := range deniedReasons {
		m.denied.WithLabelValues(r)
	}
	reg.MustRegister(m.requests, m.duration, m.clients, m.denied, m.overruns)
	return m
}

// request counts and times one request; client is "" for the anonymous
// client.
func (m *Metrics) request(route, outcome, client string, elapsed time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(route, outcome).Inc()
	m.duration.WithLabelValues(route, outcome).Observe(elapsed.Seconds())
	if client != "" {
		m.clients.WithLabelValues(client, outcome).Inc()
	}
}

// refused counts a request refused by the access rules for reason.
func (m *Metrics) refused(reason string) {
	if m != nil {
		m.denied.WithLabelValues(reason).Inc()
	}
}

// LeaseOverrun is the Guard's OnLeaseOverrun: it counts a keyed addition
// whose holder outlived its claim's lease.
func (m *Metrics) LeaseOverrun(time.Duration) {
	if m != nil {
		m.overruns.Inc()
	}
}
