package auth

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// setMetrics are a Set's metrics, kept from Open on and shown once
// registered; names and help texts are what dashboards and alerts read.
type setMetrics struct {
	reloads  *prometheus.CounterVec // idemsum_auth_reloads_total{result}
	readOK   prometheus.Gauge       // idemsum_auth_reload_ok: 1 when the file last read was good
	loadedAt prometheus.Gauge       // idemsum_auth_loaded_timestamp_seconds: when the tokens in use were read
}

func newSetMetrics() *setMetrics {
	return &setMetrics{
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idemsum_auth_reloads_total",
			Help: "Reloads of the -auth-tokens file on SIGHUP by result (ok, error).",
		}, []string{"result"}),
		readOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "idemsum_auth_reload_ok",
			Help: "1 when the last read of the -auth-tokens file (at start or on SIGHUP) succeeded; 0 when it failed and older tokens are still in use.",
		}),
		loadedAt: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "idemsum_auth_loaded_timestamp_seconds",
			Help: "Unix time at which the -auth-tokens in use were read.",
		}),
	}
}

// read records a read of the file: its error, or the time it succeeded.
func (m *setMetrics) read(err error, at time.Time) {
	if err != nil {
		m.readOK.Set(0)
		return
	}
	m.readOK.Set(1)
	m.loadedAt.Set(float64(at.UnixNano()) / 1e9)
}

// reloaded counts a Reload by its result.
func (m *setMetrics) reloaded(err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.reloads.WithLabelValues(result).Inc()
}

// Register registers s's metrics on reg: idemsum_auth_clients (the
// clients of the Tokens in use), idemsum_auth_reloads_total{result},
// idemsum_auth_reload_ok and idemsum_auth_loaded_timestamp_seconds. They
// count from Open on, registered or not.
func (s *Set) Register(reg prometheus.Registerer) {
	reg.MustRegister(s.m.reloads, s.m.readOK, s.m.loadedAt, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "idemsum_auth_clients",
		Help: "Clients in the -auth-tokens file as last loaded.",
	}, func() float64 { return float64(s.Current().Len()) }))
}
