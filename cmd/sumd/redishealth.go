package main

import (
	"context"
	"errors"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"idemsum/internal/tick"
)

// redisHealth knows whether Redis can take claims: it probes with a write
// (which a Redis out of memory under noeviction or a read-only replica
// refuses though it still answers PING), and it hears of
// the Guard's failures. The last reason is what /readyz and the metrics
// show.
type redisHealth struct {
	probe func(ctx context.Context) error

	mu     sync.Mutex
	reason string // "" while up

	down *prometheus.GaugeVec // idemsum_redis_down{reason}: 1 for the current reason
}

// redisReasons are the reasons redisHealth reports, as metric labels. When
// several masters of a cluster fail, the first of their reasons in this
// order is reported.
var redisReasons = []string{"clusterdown", "masterdown", "tryagain", "loading", "readonly", "oom", "auth", "unreachable", "error"}

// newRedisHealth probes rdb with probeKey, or on a cluster every master
// with a key of probeKey's name and a slot of that master (clusterProbe).
func newRedisHealth(rdb redis.UniversalClient, probeKey string, reg prometheus.Registerer) *redisHealth {
	h := &redisHealth{
		probe: func(ctx context.Context) error { return probe(ctx, rdb, probeKey) },
		down: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "idemsum_redis_down",
			Help: "1 for the reason Redis cannot take claims now (" + strings.Join(redisReasons, ", ") + "); all 0 while it can.",
		}, []string{"reason"}),
	}
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		keys := newSlotKeys(probeKey + ":")
		h.probe = func(ctx context.Context) error { return clusterProbe(ctx, cc, keys) }
	}
	for _, r := range redisReasons {
		h.down.WithLabelValues(r)
	}
	reg.MustRegister(h.down)
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

// check probes Redis now and returns "up" or the reason it is down.
func (h *redisHealth) check(ctx context.Context) string {
	err := h.probe(ctx)
	if err != nil && ctx.Err() != nil {
		return h.state() // the caller went away; that says nothing of Redis
	}
	h.set(redisReason(err))
	return h.state()
}

// failed records a failure the Guard saw; h may be nil (no Redis).
func (h *redisHealth) failed(err error) {
	if h != nil {
		h.set(redisReason(err))
	}
}

// up reports whether the last probe or failure found Redis able to write;
// false when h is nil (no Redis).
func (h *redisHealth) up() bool { return h != nil && h.state() == "up" }

func (h *redisHealth) state() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.reason == "" {
		return "up"
	}
	return h.reason
}

func (h *redisHealth) set(reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if reason == h.reason {
		return
	}
	h.reason = reason
	for _, r := range redisReasons {
		v := 0.0
		if r == reason {
			v = 1
		}
		h.down.WithLabelValues(r).Set(v)
	}
}

// watch probes every interval until ctx is done, so the state is right
// even while no request uses Redis.
func (h *redisHealth) watch(ctx context.Context, interval time.Duration) {
	tick.Every(ctx, interval, func() {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		h.check(pctx)
	})
}

// redisReason names why err means Redis cannot take claims; "" for nil.
// Of errors joined (several masters of a cluster), it names the first
// reason in redisReasons that any of them has.
func redisReason(err error) string {
	if err == nil {
		return ""
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		reason := "error"
		for _, e := range j.Unwrap() {
			if r := redisReason(e); slices.Index(redisReasons, r) < slices.Index(redisReasons, reason) {
				reason = r
			}
		}
		return reason
	}
	msg := err.Error()
	for prefix, reason := range map[string]string{
		"OOM": "oom", "READONLY": "readonly", "LOADING": "loading",
		"NOAUTH": "auth", "WRONGPASS": "auth", "NOPERM": "auth",
		"CLUSTERDOWN": "clusterdown", "MASTERDOWN": "masterdown",
		// TRYAGAIN: a multi-key command during resharding; MOVED and ASK
		// surface only once the redirects are used up: slots are moving.
		"TRYAGAIN": "tryagain", "MOVED": "tryagain", "ASK": "tryagain",
	} {
		if strings.HasPrefix(msg, prefix) || strings.Contains(msg, ": "+prefix+" ") {
			return reason
		}
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, redis.ErrClosed) || strings.Contains(msg, "EOF") || strings.Contains(msg, "connection") {
		return "unreachable"
	}
	return "error"
}
