package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/idemsum/idemsum/internal/tick"
)

// newLogger logs text at level when stderr is a terminal, else JSON
// through a logWriter (buffered; see there). stop flushes it at the end.
func newLogger(ctx context.Context, stderr io.Writer, level string) (log *slog.Logger, stop func(), err error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, nil, fmt.Errorf("-log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	if f, ok := stderr.(*os.File); ok && terminal(f) {
		return slog.New(slog.NewTextHandler(stderr, opts)), func() {}, nil
	}
	w, stop := newLogWriter(ctx, stderr)
	return slog.New(flushHandler{slog.NewJSONHandler(w, opts), w}), stop, nil
}

// terminal reports whether f is a character device other than /dev/null:
// a person reading, who gets text lines at once. /dev/null (as under a
// benchmark) gets the buffered JSON lines, like a file or a pipe, so that
// its cost is the production one.
func terminal(f *os.File) bool {
	st, err := f.Stat()
	if err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	null, err := os.Stat(os.DevNull)
	return err != nil || !os.SameFile(st, null)
}

// logWriter buffers log lines so that the request log costs no write
// system call per request: lines go out when 32 KiB have gathered, every
// flushEvery, after any line other than an info "request" line
// (flushHandler), and at exit. A crash can lose at most flushEvery of
// request lines, never a warning.
type logWriter struct {
	mu sync.Mutex
	w  *bufio.Writer
}

// flushEvery bounds how long an info line waits in the buffer.
const flushEvery = 100 * time.Millisecond

// newLogWriter buffers w and flushes it every flushEvery until ctx is
// done; stop flushes a last time and ends the flushing.
func newLogWriter(ctx context.Context, w io.Writer) (lw *logWriter, stop func()) {
	lw = &logWriter{w: bufio.NewWriterSize(w, 32<<10)}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick.Every(ctx, flushEvery, func() { lw.Flush() })
	}()
	return lw, func() { cancel(); <-done; lw.Flush() }
}

func (l *logWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Flush writes out what is buffered.
func (l *logWriter) Flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Flush()
}

// flushHandler is a slog.Handler that flushes its logWriter after every
// record but the per-request lines at info or below, so that only those
// wait in the buffer and what an operator must see never does.
type flushHandler struct {
	slog.Handler
	w *logWriter
}

func (h flushHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn || r.Message != "request" {
		h.w.Flush()
	}
	return err
}

func (h flushHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return flushHandler{h.Handler.WithAttrs(as), h.w}
}

func (h flushHandler) WithGroup(name string) slog.Handler {
	return flushHandler{h.Handler.WithGroup(name), h.w}
}

// traceIDs is a slog.Handler that adds trace_id and span_id to each
// record logged with a context that holds a span (a request's, under
// tracing), so that a request's log line leads to its trace.
type traceIDs struct{ slog.Handler }

func (h traceIDs) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceIDs) WithAttrs(as []slog.Attr) slog.Handler { return traceIDs{h.Handler.WithAttrs(as)} }

func (h traceIDs) WithGroup(name string) slog.Handler { return traceIDs{h.Handler.WithGroup(name)} }
