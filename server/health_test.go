package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"idemsum/server"
)

func TestHealthz(t *testing.T) {
	t.Parallel()
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			l := newLedger()
			d := deps(l, nil)
			d.PingMySQL = func(context.Context) error { return errDown } // alive even so
			rec := serve(t, server.NewServer(d), request{method: method, target: "/healthz"})
			if rec.Code != http.StatusOK {
				t.Errorf("status: got %d, want %d", rec.Code, http.StatusOK)
			}
			if got := rec.Header().Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type: got %q, want %q", got, "application/json")
			}
			assertUntouched(t, l, nil)
		})
	}
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	up := func(context.Context) error { return nil }
	down := func(context.Context) error { return errors.New("connection refused") }
	redisUp := func(context.Context) string { return "up" }
	unreachable := func(context.Context) string { return "unreachable" }
	oom := func(context.Context) string { return "oom" }
	tests := []struct {
		name       string
		mysql      func(context.Context) error
		redis      func(context.Context) string
		wantStatus int
		want       map[string]string
	}{
		{"all up", up, redisUp, http.StatusOK, map[string]string{"status": "ready", "mysql": "up", "redis": "up", "redis_reason": ""}},
		{"redis disabled", up, nil, http.StatusOK, map[string]string{"status": "ready", "mysql": "up", "redis": "disabled"}},
		{"redis down", up, unreachable, http.StatusOK, map[string]string{"status": "degraded", "mysql": "up", "redis": "down", "redis_reason": "unreachable"}},
		{"redis refuses writes", up, oom, http.StatusOK, map[string]string{"status": "degraded", "mysql": "up", "redis": "down", "redis_reason": "oom"}},
		{"mysql down", down, redisUp, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "mysql": "down", "redis": "up"}},
		{"mysql down, redis disabled", down, nil, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "mysql": "down", "redis": "disabled"}},
		{"both down", down, unreachable, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "mysql": "down", "redis": "down"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newLedger()
			d := deps(l, nil)
			d.PingMySQL, d.RedisState = tc.mysql, tc.redis
			rec := serve(t, server.NewServer(d), request{method: http.MethodGet, target: "/readyz"})
			if rec.Code != tc.wantStatus {
				t.Errorf("status: got %d, want %d", rec.Code, tc.wantStatus)
			}
			if tc.wantStatus == http.StatusServiceUnavailable {
				assertRetryAfter(t, rec)
			}
			var got map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("body %q: got error %v, want JSON", rec.Body.String(), err)
			}
			for k, want := range tc.want {
				if got[k] != want {
					t.Errorf("%s: got %q, want %q", k, got[k], want)
				}
			}
			assertUntouched(t, l, nil)
		})
	}
}

// TestReadyzHonoursRequestContext checks that readiness pings get the
// request's context, so a client that goes away stops them.
func TestReadyzHonoursRequestContext(t *testing.T) {
	t.Parallel()
	d := deps(newLedger(), nil)
	d.PingMySQL = func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "/readyz", nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	server.NewServer(d).ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("status: got %d, want %d", rec.Code, http.StatusServiceUnavailable)
	}
}
