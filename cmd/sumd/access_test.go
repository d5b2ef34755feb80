package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"idemsum/auth"
)

// TestRunRejectsBadAccessConfig: a tokens file that is missing or has a
// bad line, or an allowed origin that is not an origin, stops sumd at
// start-up with an error that names the culprit (the file and line).
func TestRunRejectsBadAccessConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "tokens")
	content := "# clients\nbilling 2b581ba2ff4fd67352a1641c1cecb80266d9172f6ecc45ca339424bbed0ca2e3\nreports not-a-hash\n"
	if err := os.WriteFile(bad, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		args []string
		env  map[string]string
		want string
	}{
		"bad tokens line": {args: []string{"-auth-tokens", bad}, want: bad + ":3:"},
		"bad tokens env":  {env: map[string]string{"SUM_AUTH_TOKENS": bad}, want: bad + ":3:"},
		"no tokens file":  {args: []string{"-auth-tokens", filepath.Join(dir, "absent")}, want: "absent"},
		"bad origin":      {args: []string{"-allowed-origins", "https://a.example, app.example"}, want: "-allowed-origins"},
		"origin path":     {env: map[string]string{"SUM_ALLOWED_ORIGINS": "https://a.example/"}, want: "-allowed-origins"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			getenv := func(k string) string { return c.env[k] }
			err := run(ctx, append([]string{"sumd", "-http-addr", "127.0.0.1:0"}, c.args...), getenv, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("run: got %v, want an error naming %q", err, c.want)
			}
		})
	}
}

// TestFailedReloadIsVisible: a reload that reads a bad file keeps the
// previous tokens (a revoked token may still work) and says so where an
// operator looks: idemsum_auth_reload_ok drops to 0, the load time stays
// that of the tokens in use, and a later good file sets both right.
func TestFailedReloadIsVisible(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "tokens")
	writeFile(t, path, auth.Line("billing", "t1")+"\n"+auth.Line("revoked", "t2")+"\n")
	a, err := openAccess(config{AuthTokens: path})
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Unix(1000, 0)
	a.now = func() time.Time { return clock }
	reg := prometheus.NewRegistry()
	sa := a.server(reg)
	a.loaded(nil) // the start, at the fake clock
	gauge := func(name string) float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == name {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatalf("no metric %s", name)
		return 0
	}
	log := slog.New(slog.DiscardHandler)

	clock = time.Unix(2000, 0)
	writeFile(t, path, auth.Line("billing", "t1")+"\nrevoked-typo\n") // revoking, with a typo
	a.reload(log)
	if _, ok := sa.Tokens().Lookup("t2"); !ok {
		t.Errorf("after the bad file: the previous tokens must stay in use")
	}
	if got := gauge("idemsum_auth_reload_ok"); got != 0 {
		t.Errorf("after the bad file: idemsum_auth_reload_ok = %v, want 0", got)
	}
	if got := gauge("idemsum_auth_loaded_timestamp_seconds"); got != 1000 {
		t.Errorf("after the bad file: loaded at %v, want 1000 (the tokens in use)", got)
	}

	clock = time.Unix(3000, 0)
	writeFile(t, path, auth.Line("billing", "t1")+"\n")
	a.reload(log)
	if _, ok := sa.Tokens().Lookup("t2"); ok {
		t.Errorf("after the good file: the revoked token still works")
	}
	if got := gauge("idemsum_auth_reload_ok"); got != 1 {
		t.Errorf("after the good file: idemsum_auth_reload_ok = %v, want 1", got)
	}
	if got := gauge("idemsum_auth_loaded_timestamp_seconds"); got != 3000 {
		t.Errorf("after the good file: loaded at %v, want 3000", got)
	}
}
