// Package logbuf buffers a service's JSON log so that its per-request
// lines cost no write system call each, while every other line goes out
// at once (docs/operations.md#logs).
package logbuf

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/idemsum/idemsum/internal/tick"
)

// New returns a JSON slog.Handler with opts writing to w through a
// logWriter (see there), which it flushes every FlushEvery until ctx is
// done; stop flushes a last time and ends the flushing.
func New(ctx context.Context, w io.Writer, opts *slog.HandlerOptions) (h slog.Handler, stop func()) {
	lw, stop := newLogWriter(ctx, w)
	return flushHandler{slog.NewJSONHandler(lw, opts), lw}, stop
}

// logWriter buffers log lines so that the request log costs no write
// system call per request: lines go out when 32 KiB have gathered, every
// FlushEvery, after any line other than an info "request" line
// (flushHandler), and at exit. A crash can lose at most FlushEvery of
// request lines, never a warning.
type logWriter struct {
	mu sync.Mutex
	w  *bufio.Writer
}

// FlushEvery bounds how long an info line waits in the buffer.
const FlushEvery = 100 * time.Millisecond

// newLogWriter buffers w and flushes it every FlushEvery until ctx is
// done; stop flushes a last time and ends the flushing.
func newLogWriter(ctx context.Context, w io.Writer) (lw *logWriter, stop func()) {
	lw = &logWriter{w: bufio.NewWriterSize(w, 32<<10)}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick.Every(ctx, FlushEvery, func() { lw.Flush() })
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
