package ledgercache

import "github.com/prometheus/client_golang/prometheus"

// Metrics count what the cache answered; a nil *Metrics counts nothing.
type Metrics struct {
	keys *prometheus.CounterVec // idemsum_cache_keys_total{result}
}

// NewMetrics registers the cache's metrics on reg; set them as
// Ledger.Metrics.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{keys: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "idemsum_cache_keys_total",
		Help: "Keys of batches looked up in the Redis record cache, by result: hit (answered from its record without MySQL), miss (sent to MySQL; also every key of a failed look-up), stored (records cached after a batch).",
	}, []string{"result"})}
	for _, r := range []string{"hit", "miss", "stored"} {
		m.keys.WithLabelValues(r)
	}
	reg.MustRegister(m.keys)
	return m
}

func (m *Metrics) looked(hits, misses int) {
	if m != nil {
		m.keys.WithLabelValues("hit").Add(float64(hits))
		m.keys.WithLabelValues("miss").Add(float64(misses))
	}
}

func (m *Metrics) stored(n int) {
	if m != nil {
		m.keys.WithLabelValues("stored").Add(float64(n))
	}
}
