package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idemsum/idemsum/internal/testenv"
)

// instance is sumd started in-process by run.
type instance struct {
	URL    string
	Prefix string // Redis key prefix
	cancel context.CancelFunc
	done   chan error
}

// start runs sumd in-process on a fresh database and Redis prefix with
// extra flags, and returns once it listens.
func start(t *testing.T, extra ...string) *instance {
	t.Helper()
	_, prefix := testenv.Redis(t)
	return startWith(t, testenv.MySQL(t), prefix, extra...)
}

// startWith is start on a given database and Redis prefix.
func startWith(t *testing.T, dsn, prefix string, extra ...string) *instance {
	t.Helper()
	args := append([]string{"sumd", "-http-addr", "127.0.0.1:0", "-mysql-dsn", dsn,
		"-redis-url", testenv.RedisURL(), "-redis-prefix", prefix, "-lease-ttl", "1s", "-log-level", "warn", "-shutdown-delay", "0"}, extra...)
	ctx, cancel := context.WithCancel(context.Background())
	out, outw := io.Pipe()
	in := &instance{Prefix: prefix, cancel: cancel, done: make(chan error, 1)}
	go func() {
		in.done <- run(ctx, args, func(string) string { return "" }, outw, io.Discard)
		outw.Close()
	}()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if _, url, ok := strings.Cut(sc.Text(), "listening on "); ok {
				addr <- url
			}
		}
		close(addr)
	}()
	t.Cleanup(func() { in.stop(t) })
	select {
	case in.URL = <-addr:
	case err := <-in.done:
		t.Fatalf("sumd exited before listening: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("sumd did not start listening within 30s")
	}
	return in
}

// stop cancels run (as SIGTERM would) and waits for it to return.
func (in *instance) stop(t *testing.T) error {
	t.Helper()
	in.cancel()
	select {
	case err, ok := <-in.done:
		if ok {
			close(in.done)
		}
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("sumd did not shut down within 30s")
	}
	return nil
}

func TestRunServesAndShutsDown(t *testing.T) {
	t.Parallel()
	in := start(t)
	resp, err := http.Get(in.URL + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	if err := in.stop(t); err != nil {
		t.Errorf("run returned %v after cancel, want nil", err)
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		args []string
		env  map[string]string
	}{
		"bad lease flag":    {args: []string{"-lease-ttl", "soon"}},
		"bad key ttl env":   {env: map[string]string{"SUM_KEY_TTL": "forever"}},
		"zero batch":        {args: []string{"-batch-max", "0"}},
		"negative wait":     {args: []string{"-batch-wait", "-1s"}},
		"extra argument":    {args: []string{"extra"}},
		"bad log level":     {args: []string{"-log-level", "loud"}},
		"bad mysql dsn":     {args: []string{"-mysql-dsn", "not a dsn"}},
		"unknown flag":      {args: []string{"-nope"}},
		"bad redis url":     {args: []string{"-redis-url", "mysql://x"}},
		"bad purge config":  {env: map[string]string{"SUM_PURGE_BATCH": "x"}},
		"zero idle timeout": {args: []string{"-idle-timeout", "0s"}},
		"write within wait": {args: []string{"-write-timeout", "5s", "-max-wait", "5s"}},
		"bad read env":      {env: map[string]string{"SUM_READ_TIMEOUT": "slow"}},
		"zero key ttl":      {args: []string{"-key-ttl", "0s"}},
		"zero lease env":    {env: map[string]string{"SUM_LEASE_TTL": "0s"}},
		"negative skew":     {args: []string{"-max-clock-skew", "-1s"}},
		"zero purge batch":  {env: map[string]string{"SUM_PURGE_BATCH": "0"}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			getenv := func(k string) string { return c.env[k] }
			err := run(ctx, append([]string{"sumd", "-http-addr", "127.0.0.1:0"}, c.args...), getenv, io.Discard, io.Discard)
			if err == nil {
				t.Fatal("run returned nil, want a configuration error")
			}
		})
	}
}

func TestConfigEnvironmentDefaults(t *testing.T) {
	t.Parallel()
	env := map[string]string{"SUM_HTTP_ADDR": "127.0.0.1:9999", "SUM_LEASE_TTL": "3s", "SUM_REDIS_URL": "off", "SUM_BATCH_MAX": "1"}
	c, err := parseConfig([]string{"-lease-ttl", "4s"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != "127.0.0.1:9999" || c.LeaseTTL != 4*time.Second || c.RedisURL != "off" || c.BatchMax != 1 {
		t.Errorf("got %+v, want env defaults overridden by flags", c)
	}
	d, err := parseConfig(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if d.HTTPAddr != "127.0.0.1:8080" || d.MySQLDSN != "root@tcp(127.0.0.1:3306)/test" || d.RedisURL != "redis://127.0.0.1:6379/0" || d.KeyTTL != 24*time.Hour {
		t.Errorf("defaults got %+v", d)
	}
}
