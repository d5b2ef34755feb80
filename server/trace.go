package server

import (
	"net/http"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// traceRequest names the request's span (when tracing records it) after
// its route (the mux pattern, such as "POST /sum") and sets its outcome: added, replayed, read, in_flight,
// mismatch, invalid, unavailable or other, as the metrics count it. It
// costs a context lookup when tracing is off.
func traceRequest(r *http.Request, route, outcome string) {
	span := trace.SpanFromContext(r.Context())
	if !span.IsRecording() {
		return
	}
	path := route
	if _, p, ok := strings.Cut(route, " "); ok {
		path = p
	}
	span.SetName(r.Method + " " + path)
	span.SetAttributes(attribute.String("http.route", path), attribute.String("idemsum.outcome", outcome))
}
