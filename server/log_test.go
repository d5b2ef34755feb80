package server_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"idemsum/server"
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
