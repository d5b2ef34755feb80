package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
