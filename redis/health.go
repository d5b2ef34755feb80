package redis

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/idemsum/idemsum/internal/tick"
)

// Health knows whether Redis can take claims: it probes with a write
// (which a Redis out of memory under noeviction or a read-only replica
// refuses though it still answers PING), and it hears of the Guard's
// failures (StoreFailed). The last reason is what /readyz and the metrics
// show. A nil *Health is Redis disabled: it is never up, and hears of
// nothing. A Health is safe for concurrent use.
type Health struct {
	probe func(ctx context.Context) error
	log   *slog.Logger
	m     *metrics

	mu     sync.Mutex
	reason string // "" while up
}

// NewHealth probes rdb with probeKey, or on a cluster every master with a
// key of probeKey's name and a slot of that master (clusterProbe). It
// registers idemsum_redis_down{reason} and idemsum_redis_errors_total{op}
// on reg, and logs the failures StoreFailed is told of to log (nil: no
// log).
func NewHealth(rdb redis.UniversalClient, probeKey string, reg prometheus.Registerer, log *slog.Logger) *Health {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Health{
		probe: func(ctx context.Context) error { return probe(ctx, rdb, probeKey) },
		log:   log,
		m:     newMetrics(reg),
	}
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		keys := newSlotKeys(probeKey + ":")
		h.probe = func(ctx context.Context) error { return clusterProbe(ctx, cc, keys) }
	}
	return h
}

// probe sends a write that changes nothing: SET of a key that does not
// exist with XX (only if it exists). Redis still refuses it as a write when
// it is out of memory under noeviction or a read-only replica, as it would
// a claim, yet it leaves no key behind.
func probe(ctx context.Context, rdb redis.UniversalClient, key string) error {
	err := rdb.Do(ctx, "SET", key, "1", "PX", 1000, "XX").Err()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	return err
}

// Check probes Redis now and returns "up" or the reason it is down (one of
// Reasons). A probe cut short by ctx says nothing of Redis: Check then
// returns the state as it was.
func (h *Health) Check(ctx context.Context) string {
	err := h.probe(ctx)
	if err != nil && ctx.Err() != nil {
		return h.state() // the caller went away; that says nothing of Redis
	}
	h.set(reason(err))
	return h.state()
}

// StoreFailed is the Guard's OnStoreError: it counts the failure of op in
// idemsum_redis_errors_total, records its reason and logs it (the Guard
// then runs on MySQL alone for a while). h may be nil (no Redis).
func (h *Health) StoreFailed(op string, err error) {
	if h == nil {
		return
	}
	h.m.errors.WithLabelValues(op).Inc()
	h.set(reason(err))
	h.log.Warn("redis unavailable; degraded to MySQL only", "op", op, "err", err)
}

// Up reports whether the last probe or failure found Redis able to write;
// false when h is nil (no Redis).
func (h *Health) Up() bool { return h != nil && h.state() == "up" }

func (h *Health) state() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.reason == "" {
		return "up"
	}
	return h.reason
}

func (h *Health) set(reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if reason == h.reason {
		return
	}
	h.reason = reason
	h.m.setDown(reason)
}

// Watch probes every interval, each probe within a second, until ctx is
// done, so the state is right even while no request uses Redis.
func (h *Health) Watch(ctx context.Context, interval time.Duration) {
	tick.Every(ctx, interval, func() {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		h.Check(pctx)
	})
}
