package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/idemsum/idemsum/internal/logbuf"
)

// newLogger logs text at level when stderr is a terminal, else JSON,
// buffered (logbuf). stop flushes it at the end.
func newLogger(ctx context.Context, stderr io.Writer, level string) (log *slog.Logger, stop func(), err error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, nil, fmt.Errorf("-log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	if f, ok := stderr.(*os.File); ok && terminal(f) {
		return slog.New(slog.NewTextHandler(stderr, opts)), func() {}, nil
	}
	h, stop := logbuf.New(ctx, stderr, opts)
	return slog.New(h), stop, nil
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
