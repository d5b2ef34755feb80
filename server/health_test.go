package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/idemsum/idemsum/server"
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

// TestStarting: while sumd starts, /healthz is 200, /readyz is 503
// "starting" and says what MySQL's state is and why, as the state func
// reports it at each call, and every other request is a 503 unavailable
// problem with the outcome "not-added".
func TestStarting(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	state := server.StartState{MySQL: "down"}
	h := server.Starting(func() server.StartState {
		mu.Lock()
		defer mu.Unlock()
		return state
	})
	for _, s := range []server.StartState{
		{MySQL: "down", Reason: "MySQL does not answer"},
		{MySQL: "migrating", Reason: "migrating the schema"},
		{MySQL: "not-migrated", Reason: "the migration failed"},
		{MySQL: "bad-identity", Reason: "the deployment identity row is malformed"},
	} {
		mu.Lock()
		state = s
		mu.Unlock()
		rec := serve(t, h, request{method: http.MethodGet, target: "/readyz"})
		if rec.Code != http.StatusServiceUnavailable {
			t.Errorf("%s: status got %d, want %d", s.MySQL, rec.Code, http.StatusServiceUnavailable)
		}
		assertRetryAfter(t, rec)
		var got map[string]string
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatalf("body %q: got error %v, want JSON", rec.Body.String(), err)
		}
		want := map[string]string{"status": "starting", "mysql": s.MySQL, "mysql_reason": s.Reason, "redis": "unknown"}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s got %q, want %q", s.MySQL, k, got[k], v)
			}
		}
	}
	if rec := serve(t, h, request{method: http.MethodGet, target: "/healthz"}); rec.Code != http.StatusOK {
		t.Errorf("/healthz while starting: got %d, want 200", rec.Code)
	}
	for _, r := range []request{
		{method: http.MethodPost, target: "/sum?number=5"},
		request{method: http.MethodPost, target: "/sum?number=5"}.withKey("K"),
		{method: http.MethodGet, target: "/test-sum-action?ikey=K&number=5"},
		{method: http.MethodGet, target: "/sum"},
		{method: http.MethodGet, target: "/stats"},
	} {
		assertOutcome(t, serve(t, h, r), "unavailable", "not-added")
	}
}

// TestStartingWithoutState: a nil state func means MySQL is down.
func TestStartingWithoutState(t *testing.T) {
	t.Parallel()
	rec := serve(t, server.Starting(nil), request{method: http.MethodGet, target: "/readyz"})
	var got map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got["status"] != "starting" || got["mysql"] != "down" {
		t.Errorf("/readyz: got %d %q (%v), want starting with mysql down", rec.Code, rec.Body.String(), err)
	}
}

// TestReadyzDraining: while the instance drains before it stops, /readyz
// answers 503 "draining" with MySQL and Redis up, and additions are still
// served.
func TestReadyzDraining(t *testing.T) {
	t.Parallel()
	l := newLedger()
	d := deps(l, nil)
	var draining atomic.Bool
	d.Draining = draining.Load
	h := server.NewServer(d)
	if rec := serve(t, h, request{method: http.MethodGet, target: "/readyz"}); rec.Code != http.StatusOK {
		t.Fatalf("/readyz before draining: got %d, want 200", rec.Code)
	}
	draining.Store(true)
	rec := serve(t, h, request{method: http.MethodGet, target: "/readyz"})
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("/readyz while draining: got %d, want %d", rec.Code, http.StatusServiceUnavailable)
	}
	var got map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got["status"] != "draining" || got["mysql"] != "up" {
		t.Errorf("/readyz while draining: got %q (%v), want status draining, mysql up", rec.Body.String(), err)
	}
	assertTotal(t, serve(t, h, request{method: http.MethodPost, target: "/sum?number=5"}.withKey("drain")), "5")
	if rec := serve(t, h, request{method: http.MethodGet, target: "/healthz"}); rec.Code != http.StatusOK {
		t.Errorf("/healthz while draining: got %d, want 200", rec.Code)
	}
}
