package redis_test

import (
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/idemsum/idemsum/redis"
)

// TestOpenRedis checks how -redis-url and -redis-mode choose a client:
// go-redis's own URL forms, auto mode, and clear errors for URLs that do
// not fit the mode (without the URL's password).
func TestOpenRedis(t *testing.T) {
	t.Parallel()
	const (
		cluster  = "redis://127.0.0.1:7000?addr=127.0.0.1:7001&addr=127.0.0.1:7002"
		sentinel = "redis://127.0.0.1:26379/0?master_name=mymaster&addr=127.0.0.1:26380&addr=127.0.0.1:26381"
	)
	tests := []struct {
		url, mode, prefix string
		want              string // the mode resolved, or "error: " and part of the message
	}{
		{"redis://127.0.0.1:6379/0", "auto", "", "single"},
		{"rediss://u:p@127.0.0.1:6380/2", "auto", "", "single"},
		{"unix:///run/redis.sock?db=1", "auto", "", "single"},
		{cluster, "auto", "", "cluster"},
		{"rediss://127.0.0.1:7000?addr=127.0.0.1:7001", "auto", "", "cluster"},
		{"redis://127.0.0.1:7000", "cluster", "", "cluster"}, // one seed: only the flag says cluster
		{sentinel, "auto", "", "sentinel"},
		{"redis://127.0.0.1:26379?master_name=m", "auto", "", "sentinel"}, // one sentinel
		{sentinel, "sentinel", "", "sentinel"},
		{"redis://127.0.0.1:6379/0", "sentinel", "", "error: needs master_name"},
		{sentinel, "cluster", "", "error: takes no master_name"},
		{cluster, "single", "", "error: takes one address"},
		{sentinel, "single", "", "error: takes one address"},
		{"redis://127.0.0.1:7000/3?addr=127.0.0.1:7001", "auto", "", "error: only database 0"},
		{cluster, "auto", "{idem}:", "error: hash tag"},
		{cluster, "auto", "idem{}:", "error: hash tag"},
		{"redis://127.0.0.1:6379/0", "auto", "{idem}:", "single"}, // harmless on one Redis
		{"redis://127.0.0.1:7000?addr=nonsense", "auto", "", "error: unable to parse addr"},
		{"redis://127.0.0.1:7000?addr=127.0.0.1:7001&pool_siz=3", "auto", "", "error: unexpected option"},
		{"redis://127.0.0.1:6379/x", "auto", "", "error: invalid database"},
		{"mysql://127.0.0.1", "auto", "", "error: invalid URL scheme"},
		{"redis://u:secret@127.0.0.1:6379/0?master_name=", "sentinel", "", "error: needs master_name"},
		{"redis://u:secret@[::1", "auto", "", "error: missing ']'"},
	}
	for _, tt := range tests {
		c, mode, err := redis.Open(redis.Options{URL: tt.url, Mode: tt.mode, Prefix: tt.prefix})
		got := mode
		if err != nil {
			got = "error: " + err.Error()
		} else {
			c.Close()
		}
		if !strings.HasPrefix(tt.want, "error: ") && got != tt.want || strings.HasPrefix(tt.want, "error: ") && !strings.Contains(got, tt.want[7:]) {
			t.Errorf("Open(%q, -redis-mode %s, prefix %q) = %q, want %q", tt.url, tt.mode, tt.prefix, got, tt.want)
		}
		if strings.Contains(got, "secret") {
			t.Errorf("Open(%q): error %q shows the password", tt.url, got)
		}
	}
}

// TestRedisClientOptions checks that every mode keeps sumd's options: 250ms
// timeouts, one dial per attempt, no retries, and on a cluster redirects
// still followed; rediss:// turns TLS on.
func TestRedisClientOptions(t *testing.T) {
	t.Parallel()
	open := func(url, mode string) goredis.UniversalClient {
		t.Helper()
		c, _, err := redis.Open(redis.Options{URL: url, Mode: mode})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	const d = 250 * time.Millisecond
	single := open("rediss://127.0.0.1:6380/1", "auto").(*goredis.Client).Options()
	if single.DialTimeout != d || single.ReadTimeout != d || single.WriteTimeout != d || single.MaxRetries != 0 || single.DialerRetries != 1 || single.TLSConfig == nil || single.DB != 1 {
		t.Errorf("single: got %+v, want 250ms timeouts, MaxRetries 0 (after init), DialerRetries 1, TLS, DB 1", single)
	}
	cl := open("rediss://127.0.0.1:7000?addr=127.0.0.1:7001", "auto").(*goredis.ClusterClient).Options()
	if cl.DialTimeout != d || cl.ReadTimeout != d || cl.WriteTimeout != d || cl.MaxRetries != -1 || cl.DialerRetries != 1 || cl.MaxRedirects != redis.MaxRedirects || cl.TLSConfig == nil || len(cl.Addrs) != 2 {
		t.Errorf("cluster: got %+v, want 250ms timeouts, MaxRetries -1, DialerRetries 1, MaxRedirects %d, TLS, 2 seeds", cl, redis.MaxRedirects)
	}
	fo := open("redis://127.0.0.1:26379/3?master_name=m", "auto").(*goredis.Client).Options()
	if fo.DialTimeout != d || fo.ReadTimeout != d || fo.MaxRetries != 0 || fo.DialerRetries != 1 || fo.DB != 3 {
		t.Errorf("sentinel: got %+v, want 250ms timeouts, no retries, DialerRetries 1, DB 3", fo)
	}
}

// TestRedisSpeaksRESP2UnlessAsked: sumd's Redis clients speak RESP2 (no
// push-notification check on every reply) unless the URL sets protocol=.
func TestRedisSpeaksRESP2UnlessAsked(t *testing.T) {
	for _, c := range []struct {
		url          string
		parsed, want int
	}{
		{"redis://127.0.0.1:6379/0", 0, 2},
		{"redis://127.0.0.1:6379/0?protocol=3", 3, 3},
		{"redis://127.0.0.1:6379?master_name=m&addr=127.0.0.1:26380", 0, 2},
	} {
		if got := redis.Protocol(c.url, c.parsed); got != c.want {
			t.Errorf("Protocol(%q, %d): got %d, want %d", c.url, c.parsed, got, c.want)
		}
	}
	rdb, _, err := redis.Open(redis.Options{URL: "redis://127.0.0.1:6379/0", Mode: redis.ModeAuto})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	if got := rdb.(*goredis.Client).Options().Protocol; got != 2 {
		t.Errorf("client's protocol: got %d, want 2", got)
	}
}
