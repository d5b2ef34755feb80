package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
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

// serviceMetrics are sumd's metrics beyond the HTTP edge's.
type serviceMetrics struct {
	batchSize prometheus.Histogram
	overruns  prometheus.Counter
}

// newServiceMetrics registers the Go runtime and process collectors and
// sumd's own metrics on reg.
func newServiceMetrics(reg prometheus.Registerer) *serviceMetrics {
	m := &serviceMetrics{
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "idemsum_batch_size",
			Help:    "Additions per group-commit transaction.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
		}),
		overruns: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "idemsum_lease_overruns_total",
			Help: "Keyed additions whose holder finished after its claim's lease ran out, so another request could take the key over meanwhile (MySQL's unique key then decides).",
		}),
	}
	reg.MustRegister(m.batchSize, m.overruns,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
