package redis

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are a Health's metrics; names, labels and help texts are what
// dashboards and alerts read.
type metrics struct {
	down   *prometheus.GaugeVec   // idemsum_redis_down{reason}: 1 for the current reason
	errors *prometheus.CounterVec // idemsum_redis_errors_total{op}
}

// newMetrics registers a Health's metrics on reg, every reason of
// idemsum_redis_down at 0 (Redis is up until a probe or failure says not).
func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		down: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "idemsum_redis_down",
			Help: "1 for the reason Redis cannot take claims now (" + strings.Join(Reasons, ", ") + "); all 0 while it can.",
		}, []string{"reason"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idemsum_redis_errors_total",
			Help: "Redis operations that failed (the Guard then runs on MySQL alone for a second), by operation.",
		}, []string{"op"}),
	}
	for _, r := range Reasons {
		m.down.WithLabelValues(r)
	}
	reg.MustRegister(m.down, m.errors)
	return m
}

// setDown sets idemsum_redis_down to 1 for reason and 0 for the others
// ("" for up: all 0).
func (m *metrics) setDown(reason string) {
	for _, r := range Reasons {
		v := 0.0
		if r == reason {
			v = 1
		}
		m.down.WithLabelValues(r).Set(v)
	}
}

// RegisterUp registers idemsum_redis_up on reg, whose value up gives when
// scraped: 1 while Redis is in use (the Guard uses its Store and the
// Health is up), else 0; always 0 when Redis is disabled. up must be safe
// for concurrent use.
func RegisterUp(reg prometheus.Registerer, up func() bool) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "idemsum_redis_up",
		Help: "1 when Redis is in use, 0 when degraded to MySQL only (or Redis is disabled).",
	}, func() float64 {
		if up() {
			return 1
		}
		return 0
	}))
}
