package redis_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"github.com/idemsum/idemsum/internal/testenv"
	"github.com/idemsum/idemsum/redis"
)

// series returns the value of name{label=value} in reg, and whether it is
// there.
func series(tb testing.TB, reg *prometheus.Registry, name, label, value string) (float64, bool) {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					if c := m.GetCounter(); c != nil {
						return c.GetValue(), true
					}
					return m.GetGauge().GetValue(), true
				}
			}
		}
	}
	return 0, false
}

// TestHealthHearsOfFailures: a failure the Guard reports makes Redis down
// for its reason, counted by operation, until a probe finds it able to
// write again; the down gauge shows the current reason alone.
func TestHealthHearsOfFailures(t *testing.T) {
	t.Parallel()
	rdb, prefix := testenv.Redis(t)
	reg := prometheus.NewRegistry()
	h := redis.NewHealth(rdb, prefix+"probe", reg, nil)
	if got := h.Check(t.Context()); got != "up" || !h.Up() {
		t.Fatalf("Check = %q, Up = %v; want up", got, h.Up())
	}
	h.StoreFailed("claim", errors.New("OOM command not allowed when used memory > 'maxmemory'"))
	if h.Up() {
		t.Errorf("after an OOM failure: up, want down")
	}
	for _, c := range []struct {
		name, label, value string
		want               float64
	}{
		{"idemsum_redis_errors_total", "op", "claim", 1},
		{"idemsum_redis_down", "reason", "oom", 1},
		{"idemsum_redis_down", "reason", "unreachable", 0},
	} {
		if got, ok := series(t, reg, c.name, c.label, c.value); !ok || got != c.want {
			t.Errorf("%s{%s=%q} = %v (present %v), want %v", c.name, c.label, c.value, got, ok, c.want)
		}
	}
	if got := h.Check(t.Context()); got != "up" || !h.Up() {
		t.Errorf("a probe after the failure: Check = %q, Up = %v; want up", got, h.Up())
	}
	if got, _ := series(t, reg, "idemsum_redis_down", "reason", "oom"); got != 0 {
		t.Errorf("idemsum_redis_down{reason=\"oom\"} = %v once up, want 0", got)
	}
}

// TestHealthOfAnUnreachableRedis: a probe that cannot reach Redis says
// "unreachable"; one cut short by its caller's context says nothing of
// Redis and leaves the state as it was.
func TestHealthOfAnUnreachableRedis(t *testing.T) {
	t.Parallel()
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	rdb, _, err := redis.Open(redis.Options{URL: fmt.Sprintf("redis://127.0.0.1:%d/0", port), Mode: redis.ModeAuto})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	h := redis.NewHealth(rdb, "probe", prometheus.NewRegistry(), nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if got := h.Check(ctx); got != "up" {
		t.Errorf("Check with a cancelled context = %q, want the state before (up)", got)
	}
	if got := h.Check(t.Context()); got != "unreachable" {
		t.Errorf("Check = %q, want unreachable", got)
	}
}

// TestNilHealthIsRedisDisabled: without Redis the Health is nil: never
// up, and the Guard's failures (there are none) are ignored.
func TestNilHealthIsRedisDisabled(t *testing.T) {
	t.Parallel()
	var h *redis.Health
	h.StoreFailed("get", goredis.ErrClosed)
	if h.Up() {
		t.Errorf("nil Health: up, want down")
	}
}
