package otelx

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// FlushContext returns a groupcommit.Adder's FlushContext that gives each
// batch a span made by tracer, groupcommit.flush, a child of its first
// caller's span and linked to the others', and sets the batch size on
// every caller's span and the batch's (idemsum.batch_size). The batch's
// span outlives a caller that gives up (context.WithoutCancel): the batch
// runs on.
func FlushContext(tracer trace.Tracer) func(callers []context.Context) (context.Context, func()) {
	return func(callers []context.Context) (context.Context, func()) {
		size := attribute.Int("idemsum.batch_size", len(callers))
		links := make([]trace.Link, 0, len(callers))
		for _, c := range callers {
			span := trace.SpanFromContext(c)
			span.SetAttributes(size)
			links = append(links, trace.Link{SpanContext: span.SpanContext()})
		}
		parent := context.WithoutCancel(callers[0])
		ctx, span := tracer.Start(parent, "groupcommit.flush", trace.WithLinks(links...), trace.WithAttributes(size))
		return ctx, func() { span.End() }
	}
}
