package server_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idemsum/idemsum/auth"
	"github.com/idemsum/idemsum/server"
)

// TestRequestLogLines checks one JSON line per request with route, status,
// outcome, duration and a hash of the key, and never the raw key.
func TestRequestLogLines(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	d := deps(newLedger(), newStore())
	d.Logger = slog.New(slog.NewJSONHandler(&buf, nil))
	h := server.NewServer(d)
	const key = "secret-order-key-42"
	serve(t, h, jsonBody("/sum", `{"number":5}`).withKey(key))
	serve(t, h, jsonBody("/sum", `{"number":5}`).withKey(key))
	serve(t, h, jsonBody("/sum", `{"number":0}`))

	if strings.Contains(buf.String(), key) {
		t.Fatalf("the raw key appears in the log:\n%s", buf.String())
	}
	sum := sha256.Sum256([]byte(key))
	want := []struct {
		status  float64
		outcome string
		hash    string
	}{{200, "added", hex.EncodeToString(sum[:6])}, {200, "replayed", hex.EncodeToString(sum[:6])}, {400, "invalid", ""}}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d log lines, want %d:\n%s", len(lines), len(want), buf.String())
	}
	for i, line := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("line %d is not JSON: %v", i, err)
		}
		if rec["status"] != want[i].status || rec["outcome"] != want[i].outcome || rec["key_sha256"] != want[i].hash ||
			rec["route"] != "POST /sum" || rec["duration"] == nil {
			t.Errorf("line %d got %v, want status %v outcome %s key hash %q", i, rec, want[i].status, want[i].outcome, want[i].hash)
		}
	}
}

func TestRequestLogRespectsLevel(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	d := deps(newLedger(), newStore())
	d.Logger = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	serve(t, server.NewServer(d), jsonBody("/sum", `{"number":5}`))
	if buf.Len() != 0 {
		t.Errorf("at level warn got log lines %q, want none for a 200", buf.String())
	}
}

// TestRefusalsAreSampledInTheLog: a caller sending requests that are
// refused for who sent them (401, 403) cannot flood the log. Each such
// request's own line is DEBUG; a WARN line, at most one per 10 s and kind,
// counts the refusals since the previous one.
func TestRefusalsAreSampledInTheLog(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	d := deps(newLedger(), newStore())
	d.Access = server.Access{Tokens: func() *auth.Tokens { return testTokens }}
	d.Logger = slog.New(slog.NewJSONHandler(&buf, nil)) // INFO and above
	d.Now = clk.Now
	h := server.NewServer(d)
	refuse := func(n int, r request) {
		for range n {
			req := httptest.NewRequest(r.method, r.target, nil)
			for k, v := range r.header {
				req.Header[k] = v
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusUnauthorized && rec.Code != http.StatusForbidden {
				t.Fatalf("%s %s: got %d, want 401 or 403", r.method, r.target, rec.Code)
			}
			clk.Advance(time.Millisecond)
		}
	}
	unauthenticated := request{method: http.MethodGet, target: "/sum"}
	crossOrigin := withHeader(request{method: http.MethodPost, target: "/sum?number=5"}, "Sec-Fetch-Site", "cross-site")
	refuse(1000, unauthenticated) // one second
	refuse(3, crossOrigin)
	clk.Advance(10 * time.Second)
	refuse(1, unauthenticated)
	refuse(1, crossOrigin)

	type line struct {
		Level, Msg, Outcome string
		Status, Refused     int
	}
	var got []line
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var rec line
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("log line %q is not JSON: %v", l, err)
		}
		got = append(got, rec)
	}
	want := []line{
		{"WARN", "requests refused", "unauthenticated", 401, 1},
		{"WARN", "requests refused", "forbidden", 403, 1},
		{"WARN", "requests refused", "unauthenticated", 401, 1000},
		{"WARN", "requests refused", "forbidden", 403, 3},
	}
	if len(got) != len(want) {
		t.Fatalf("log: got %d lines, want %d:\n%s", len(got), len(want), buf.String())
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestRefusedRequestLineIsDebug: at DEBUG the refused request's own line
// is there, with its status and outcome.
func TestRefusedRequestLineIsDebug(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	d := deps(newLedger(), newStore())
	d.Access = server.Access{Tokens: func() *auth.Tokens { return testTokens }}
	d.Logger = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	serve(t, server.NewServer(d), request{method: http.MethodGet, target: "/sum"})
	if !strings.Contains(buf.String(), `"level":"DEBUG","msg":"request"`) || !strings.Contains(buf.String(), `"status":401`) {
		t.Errorf("log at DEBUG: got %q, want a DEBUG request line with status 401", buf.String())
	}
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
