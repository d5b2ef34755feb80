package groupcommit

import "github.com/prometheus/client_golang/prometheus"

// Metrics are group commit's metrics: idemsum_batch_size, the additions
// per transaction. Its name, buckets and help text are what dashboards
// read. A nil *Metrics counts nothing.
type Metrics struct {
	batchSize prometheus.Histogram
}

// NewMetrics registers group commit's metrics on reg; set them as
// Adder.Metrics. Register them even when batching is off, so that the
// metric exists (and stays at zero) whatever the configuration.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "idemsum_batch_size",
		Help:    "Additions per group-commit transaction.",
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024},
	})}
	reg.MustRegister(m.batchSize)
	return m
}

// flushed records a batch of size additions.
func (m *Metrics) flushed(size int) {
	if m != nil {
		m.batchSize.Observe(float64(size))
	}
}
