package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/idemsum/idemsum/groupcommit"
	"github.com/idemsum/idemsum/internal/buildinfo"
	"github.com/idemsum/idemsum/internal/otelx"
	"github.com/idemsum/idemsum/mysql"
)

// tracing is sumd's OpenTelemetry tracing; a nil *tracing is tracing off,
// and each method then leaves what it is given as it is, so that tracing
// off costs nothing per request.
type tracing struct {
	tp     *sdktrace.TracerProvider
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
}

// newTracing returns the tracing that the standard OTEL_* variables ask
// for, or nil: tracing is on when OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set or OTEL_TRACES_EXPORTER names
// an exporter, and off when OTEL_SDK_DISABLED is true or
// OTEL_TRACES_EXPORTER is none. sumd decides this, and reads the sampler,
// through getenv; the exporter (autoexport: OTLP over http/protobuf or
// grpc as OTEL_EXPORTER_OTLP_PROTOCOL says, or console) and the resource
// (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) are the OpenTelemetry
// SDK's, which reads the process environment itself
// (docs/operations.md#tracing-and-profiling).
func newTracing(getenv func(string) string) (*tracing, error) {
	exporter := getenv("OTEL_TRACES_EXPORTER")
	endpoint := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") + getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
	if (endpoint == "" && exporter == "") || strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") || exporter == "none" {
		return nil, nil
	}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"} {
		if p := getenv(name); p != "" && p != "http/protobuf" && p != "grpc" {
			return nil, fmt.Errorf("%s %q: want http/protobuf or grpc", name, p)
		}
	}
	sampler, err := otelx.Sampler(getenv("OTEL_TRACES_SAMPLER"), getenv("OTEL_TRACES_SAMPLER_ARG"))
	if err != nil {
		return nil, err
	}
	if err := checkHeaders(getenv("OTEL_EXPORTER_OTLP_HEADERS")); err != nil {
		return nil, err
	}
	ctx := context.Background()
	exp, err := autoexport.NewSpanExporter(ctx)
	if err != nil {
		return nil, fmt.Errorf("trace exporter: %w", err)
	}
	res, err := otelx.Resource(ctx, "sumd", buildinfo.Read().Version)
	if err != nil {
		return nil, err
	}
	return newTracingWith(sdktrace.NewBatchSpanProcessor(exp), sampler, res), nil
}

// newTracingWith returns tracing that hands its spans to sp (tests give
// an in-memory exporter's), sampled by sampler, with the resource res.
func newTracingWith(sp sdktrace.SpanProcessor, sampler sdktrace.Sampler, res *resource.Resource) *tracing {
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(sp),
		sdktrace.WithSampler(otelx.RequestsOnly(sampler)),
		sdktrace.WithResource(res),
	)
	return &tracing{
		tp:     tp,
		tracer: tp.Tracer("github.com/idemsum/idemsum/cmd/sumd"),
		prop:   propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
	}
}

// checkHeaders checks OTEL_EXPORTER_OTLP_HEADERS: key=value pairs,
// comma-separated, values URL-encoded (the exporter reads it itself, and
// would drop a malformed one silently).
func checkHeaders(v string) error {
	for _, pair := range strings.Split(v, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		k, val, ok := strings.Cut(pair, "=")
		if _, err := url.QueryUnescape(strings.TrimSpace(val)); !ok || strings.TrimSpace(k) == "" || err != nil {
			return errors.New("OTEL_EXPORTER_OTLP_HEADERS: want key=value,key=value")
		}
	}
	return nil
}

// logger returns l, with the trace_id and span_id of the request's span
// added to each line logged with its context (otelx.TraceIDs).
func (t *tracing) logger(l *slog.Logger) *slog.Logger {
	if t == nil {
		return l
	}
	return slog.New(otelx.TraceIDs(l.Handler()))
}

// handler wraps h in a server span per request (otelx.Handler).
func (t *tracing) handler(h http.Handler) http.Handler {
	if t == nil {
		return h
	}
	return otelx.Handler(h, t.tp, t.prop)
}

// openMySQL opens the MySQL pool as mysql.New does, with a span per
// statement and transaction (otelx.OpenDB).
func (t *tracing) openMySQL(cfg config) (*sql.DB, error) {
	if t == nil {
		return mysql.New(cfg.MySQLDSN, cfg.MySQLMaxConns)
	}
	return mysql.NewWith(cfg.MySQLDSN, cfg.MySQLMaxConns, otelx.OpenDB(t.tp))
}

// instrumentRedis makes a span per Redis command or pipeline (otelx.Redis).
func (t *tracing) instrumentRedis(rdb goredis.UniversalClient) error {
	if t == nil || rdb == nil {
		return nil
	}
	return otelx.Redis(rdb, t.tp)
}

// instrument traces the idempotency Store's calls (otelx.Store), the
// group-commit batches (otelx.FlushContext) and the record cache's calls
// (otelx.BatchStore) of deps; call it before
// serving. Other Adders than groupcommit's are left as they are.
func (t *tracing) instrument(w wiring) {
	deps := w.Deps
	if t == nil {
		return
	}
	if g := deps.Service.Guard; g != nil && g.Store != nil {
		g.Store = otelx.Store(g.Store, t.tracer)
	}
	if b, ok := deps.Service.Adder.(*groupcommit.Adder); ok {
		b.FlushContext = otelx.FlushContext(t.tracer)
	}
	if w.Cache != nil && w.Cache.Store != nil {
		w.Cache.Store = otelx.BatchStore(w.Cache.Store, t.tracer)
	}
}

// shutdown flushes the spans not yet exported, within a few seconds.
func (t *tracing) shutdown() {
	if t == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	t.tp.Shutdown(ctx)
}
