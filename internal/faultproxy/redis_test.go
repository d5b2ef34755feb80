package faultproxy_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idemsum/idemsum/internal/faultproxy"
	"github.com/idemsum/idemsum/internal/testenv"
)

// redisThrough returns the test Redis directly, a new proxy to it, a
// client through the proxy, and the test's key prefix. It skips t when
// Redis is absent, unless IDEMSUM_REQUIRE_SERVICES=1.
func redisThrough(t *testing.T) (direct *redis.Client, p *faultproxy.Proxy, proxied *redis.Client, prefix string) {
	t.Helper()
	direct, prefix = testenv.Redis(t)
	p = newProxy(t, direct.Options().Addr)
	return direct, p, clientVia(t, p, prefix), prefix
}

// clientVia returns a client of Redis through p, named after prefix, that
// does not retry and honours context deadlines; Cleanup closes it.
func clientVia(t *testing.T, p *faultproxy.Proxy, prefix string) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(testenv.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	opt.Addr, opt.MaxRetries, opt.ContextTimeoutEnabled = p.Addr(), -1, true
	opt.ClientName = strings.ReplaceAll(prefix, ":", "-") + "proxied"
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRedis(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("round trip", func(t *testing.T) {
		t.Parallel()
		direct, _, proxied, prefix := redisThrough(t)
		if err := proxied.Set(ctx, prefix+"k", "v", time.Minute).Err(); err != nil {
			t.Fatalf("SET through the proxy: %v", err)
		}
		if got, err := direct.Get(ctx, prefix+"k").Result(); got != "v" || err != nil {
			t.Fatalf("GET directly: got %q, %v, want \"v\"", got, err)
		}
	})
	t.Run("cut in flight", func(t *testing.T) {
		t.Parallel()
		direct, p, proxied, prefix := redisThrough(t)
		errc := make(chan error, 1)
		go func() { errc <- proxied.BLPop(ctx, 0, prefix+"list").Err() }()
		name := proxied.Options().ClientName
		eventually(t, "BLPOP blocked in Redis", func() bool {
			list, _ := direct.ClientList(ctx).Result()
			for line := range strings.Lines(list) {
				if strings.Contains(line, "name="+name+" ") && strings.Contains(line, "cmd=blpop") {
					return true
				}
			}
			return false
		})
		p.CutAll()
		select {
		case err := <-errc:
			if err == nil || errors.Is(err, redis.Nil) {
				t.Errorf("BLPOP: got %v, want a connection error", err)
			}
		case <-time.After(patience):
			t.Fatalf("BLPOP still blocked %v after CutAll", patience)
		}
		if err := proxied.Ping(ctx).Err(); err != nil {
			t.Errorf("PING after the cut: %v", err)
		}
	})
	t.Run("refuse, latency, blackhole, heal", func(t *testing.T) {
		t.Parallel()
		_, p, proxied, prefix := redisThrough(t)
		mustPing(t, proxied) // one pooled connection, kept through Refuse
		p.Refuse(true)
		if err := clientVia(t, p, prefix).Ping(ctx).Err(); err == nil {
			t.Errorf("PING on a new connection while refusing succeeded")
		}
		mustPing(t, proxied)
		p.Heal()
		const d = 20 * time.Millisecond
		p.SetLatency(d)
		if took := mustPing(t, proxied); took < 2*d {
			t.Errorf("PING took %v with latency %v, want at least %v", took, d, 2*d)
		}
		p.Heal()
		p.Blackhole(true)
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		if err := proxied.Ping(short).Err(); err == nil {
			t.Errorf("PING through a blackhole succeeded")
		}
		p.Heal()
		mustPing(t, proxied)
	})
}

// mustPing fails tb unless c answers a PING, and returns how long it took.
func mustPing(tb testing.TB, c *redis.Client) time.Duration {
	tb.Helper()
	start := time.Now()
	if err := c.Ping(context.Background()).Err(); err != nil {
		tb.Fatalf("PING: %v", err)
	}
	return time.Since(start)
}
