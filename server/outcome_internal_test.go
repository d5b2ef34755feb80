package server

import (
	"log/slog"
	"testing"
)

// TestOutcomeOfStatusIsDeterministic: a response no error produced is
// counted under one outcome for its status, whatever the order of a map
// walk. Several codes share 503; a walk over the table named any of them.
func TestOutcomeOfStatusIsDeterministic(t *testing.T) {
	for _, o := range outcomes {
		metric, level := outcomeOfStatus(o.status)
		for range 200 {
			m, l := outcomeOfStatus(o.status)
			if m != metric || l != level {
				t.Fatalf("status %d: got %s/%v, then %s/%v", o.status, metric, level, m, l)
			}
		}
	}
	if m, l := outcomeOfStatus(503); m != "unavailable" || l != slog.LevelInfo {
		t.Errorf("503 without an error: got %s/%v, want unavailable/INFO", m, l)
	}
}
