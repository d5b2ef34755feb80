package mysql

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/idemsum/idemsum"
)

// Metrics count what the Ledger does beyond adding; names and help texts
// are what dashboards and alerts read. A nil *Metrics counts nothing.
type Metrics struct {
	fenceReplays prometheus.Counter // idemsum_fence_replays_total
	purgedKeys   prometheus.Counter // idemsum_keys_purged_total
}

// NewMetrics registers the Ledger's metrics on reg; set them as
// Ledger.Metrics.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		fenceReplays: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "idemsum_fence_replays_total",
			Help: "Keyed additions that MySQL's unique key found already recorded: claims taken over after a lease expired, after a Redis flush, or in degraded mode.",
		}),
		purgedKeys: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "idemsum_keys_purged_total",
			Help: "Completed keys older than the key TTL deleted from MySQL by this instance.",
		}),
	}
	reg.MustRegister(m.fenceReplays, m.purgedKeys)
	return m
}

// replayed counts the results of a committed Add that were found already
// recorded.
func (m *Metrics) replayed(res []idemsum.Result) {
	if m == nil {
		return
	}
	for _, r := range res {
		if r.Existing {
			m.fenceReplays.Inc()
		}
	}
}

// purged counts n keys deleted by a purge.
func (m *Metrics) purged(n int64) {
	if m != nil {
		m.purgedKeys.Add(float64(n))
	}
}
