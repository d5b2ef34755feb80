package logbuf_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/idemsum/idemsum/internal/logbuf"
	"github.com/idemsum/idemsum/internal/testenv"
)

// TestLogWriter: request lines wait in the buffer (at most logbuf.FlushEvery),
// every other line and every warning goes out at once, and stop flushes
// what is left.
func TestLogWriter(t *testing.T) {
	t.Parallel()
	var out testenv.Buffer
	h, stop := logbuf.New(context.Background(), &out, nil)
	log := slog.New(h)
	log.Info("request", "n", 1)
	if strings.Contains(out.String(), `"n":1`) {
		t.Skip("the flusher ran already; the machine is slow") // nothing to check this time
	}
	log.Info("listening", "addr", "x")
	if got := out.String(); !strings.Contains(got, `"n":1`) || !strings.Contains(got, "listening") {
		t.Fatalf("after a non-request line: got %q, want both lines out", got)
	}
	log.Info("request", "n", 2)
	if !testenv.Eventually(5*time.Second, func() bool { return strings.Contains(out.String(), `"n":2`) }) {
		t.Fatalf("a request line was not written within 5s: %q", out.String())
	}
	log.Info("request", "n", 3)
	log.Warn("request", "n", 4) // a warning goes out at once, and the line before it
	if got := out.String(); !strings.Contains(got, `"n":3`) || !strings.Contains(got, `"n":4`) {
		t.Fatalf("after a warning: got %q, want lines 3 and 4 out", got)
	}
	log.Info("request", "n", 5)
	stop()
	if got := out.String(); !strings.Contains(got, `"n":5`) {
		t.Fatalf("after stop: got %q, want line 5 out", got)
	}
}
