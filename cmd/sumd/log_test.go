package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// syncBuffer is a bytes.Buffer safe for the flusher's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestLogWriter: request lines wait in the buffer (at most flushEvery),
// every other line and every warning goes out at once, and stop flushes
// what is left.
func TestLogWriter(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	w, stop := newLogWriter(context.Background(), &out)
	log := slog.New(flushHandler{slog.NewJSONHandler(w, nil), w})
	log.Info("request", "n", 1)
	if strings.Contains(out.String(), `"n":1`) {
		t.Skip("the flusher ran already; the machine is slow") // nothing to check this time
	}
	log.Info("listening", "addr", "x")
	if got := out.String(); !strings.Contains(got, `"n":1`) || !strings.Contains(got, "listening") {
		t.Fatalf("after a non-request line: got %q, want both lines out", got)
	}
	log.Info("request", "n", 2)
	if !eventually(5*time.Second, func() bool { return strings.Contains(out.String(), `"n":2`) }) {
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

// TestDevNullIsNoTerminal: /dev/null and files get the buffered JSON
// lines, not the terminal's immediate text lines.
func TestDevNullIsNoTerminal(t *testing.T) {
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	file, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	for _, f := range []*os.File{null, file} {
		if terminal(f) {
			t.Errorf("terminal(%s): got true, want false", f.Name())
		}
	}
}

// TestTraceIDsInLog: a line logged with a context holding a span carries
// its trace_id and span_id; one without, neither.
func TestTraceIDsInLog(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	log := slog.New(traceIDs{slog.NewJSONHandler(&out, nil)}).With("instance", "a")
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid}))
	log.InfoContext(ctx, "request")
	log.InfoContext(context.Background(), "other")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2:\n%s", len(lines), out.String())
	}
	if !strings.Contains(lines[0], `"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7"`) || !strings.Contains(lines[0], `"instance":"a"`) {
		t.Errorf("line with a span: got %s, want its trace_id, span_id and the logger's attributes", lines[0])
	}
	if strings.Contains(lines[1], "trace_id") {
		t.Errorf("line without a span: got %s, want no trace_id", lines[1])
	}
}
