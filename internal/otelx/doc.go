// Package otelx holds the OpenTelemetry pieces that sumd puts around the
// service's own parts when tracing is on; cmd/sumd configures and wires
// them (docs/operations.md#tracing-and-profiling):
//
//   - Store (store.go): a span for each call of the idempotency Guard to
//     its Store;
//   - FlushContext (groupcommit.go): a span for each group-commit batch,
//     under its first caller's span and linked to the others';
//   - RequestsOnly and Sampler (sampler.go): sampling of the traces that
//     requests start, never of background work, as OTEL_TRACES_SAMPLER
//     names it;
//   - Resource (resource.go): service.name and service.version under what
//     the environment says;
//   - TraceIDs (log.go): trace_id and span_id on each log line of a
//     request;
//   - Handler, OpenDB and Redis (instrument.go): the libraries' spans of
//     each request, MySQL statement and Redis command.
package otelx
