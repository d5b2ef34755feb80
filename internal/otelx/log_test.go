package otelx_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/idemsum/idemsum/internal/otelx"
)

// TestTraceIDs: a line logged with a context holding a span carries its
// trace_id and span_id; one without, neither.
func TestTraceIDs(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	log := slog.New(otelx.TraceIDs(slog.NewJSONHandler(&out, nil))).With("instance", "a")
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
