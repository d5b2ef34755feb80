package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/XSAM/otelsql"
	"github.com/redis/go-redis/extra/redisotel/v9"
	goredis "github.com/redis/go-redis/v9"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/idemsum/idemsum"
	"github.com/idemsum/idemsum/groupcommit"
	"github.com/idemsum/idemsum/mysql"
	"github.com/idemsum/idemsum/server"
)

// tracing is sumd's OpenTelemetry tracing; a nil *tracing is tracing off,
// and each method then leaves what it is given as it is, so that tracing
// off costs nothing per request.
type tracing struct {
	tp     *sdktrace.TracerProvider
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
}

// newTracing returns the tracing that the standard OTEL_* variables (read
// through getenv) ask for, or nil when OTEL_EXPORTER_OTLP_ENDPOINT and
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT are empty, OTEL_SDK_DISABLED is true
// or OTEL_TRACES_EXPORTER is none. It exports with OTLP over HTTP
// (protobuf).
func newTracing(getenv func(string) string) (*tracing, error) {
	endpoint := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	if endpoint == "" && getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" {
		endpoint = strings.TrimSuffix(getenv("OTEL_EXPORTER_OTLP_ENDPOINT"), "/") + "/v1/traces"
	}
	if endpoint == "" || strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") || getenv("OTEL_TRACES_EXPORTER") == "none" {
		return nil, nil
	}
	if p := getenv("OTEL_EXPORTER_OTLP_PROTOCOL"); p != "" && p != "http/protobuf" {
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL %q: sumd exports with http/protobuf only", p)
	}
	sampler, err := samplerFrom(getenv("OTEL_TRACES_SAMPLER"), getenv("OTEL_TRACES_SAMPLER_ARG"))
	if err != nil {
		return nil, err
	}
	headers, err := parseHeaders(getenv("OTEL_EXPORTER_OTLP_HEADERS"))
	if err != nil {
		return nil, err
	}
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(endpoint), otlptracehttp.WithHeaders(headers))
	if err != nil {
		return nil, fmt.Errorf("otlp exporter: %w", err)
	}
	return newTracingWith(sdktrace.NewBatchSpanProcessor(exp), sampler, getenv("OTEL_SERVICE_NAME")), nil
}

// newTracingWith returns tracing that hands its spans to sp (tests give
// an in-memory exporter's), sampled by sampler, under the service name
// (sumd if empty).
func newTracingWith(sp sdktrace.SpanProcessor, sampler sdktrace.Sampler, service string) *tracing {
	if service == "" {
		service = "sumd"
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(sp),
		sdktrace.WithSampler(requestsOnly{sampler}),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", service))),
	)
	return &tracing{
		tp:     tp,
		tracer: tp.Tracer("github.com/idemsum/idemsum/cmd/sumd"),
		prop:   propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
	}
}

// requestsOnly samples traces that start at a request (a server span or
// a span with a parent) as next says, and drops the root spans of sumd's
// background work (the Redis probe every second, the purge), which would
// otherwise be most traces.
type requestsOnly struct{ next sdktrace.Sampler }

func (s requestsOnly) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	if !trace.SpanContextFromContext(p.ParentContext).IsValid() && p.Kind != trace.SpanKindServer {
		return sdktrace.SamplingResult{Decision: sdktrace.Drop}
	}
	return s.next.ShouldSample(p)
}

func (s requestsOnly) Description() string { return "RequestsOnly(" + s.next.Description() + ")" }

// samplerFrom returns the sampler OTEL_TRACES_SAMPLER names (default
// parentbased_always_on) with its OTEL_TRACES_SAMPLER_ARG.
func samplerFrom(name, arg string) (sdktrace.Sampler, error) {
	ratio := 1.0
	if arg != "" {
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return nil, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG %q: want a ratio from 0 to 1", arg)
		}
		ratio = r
	}
	switch name {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio)), nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(ratio), nil
	}
	return nil, fmt.Errorf("OTEL_TRACES_SAMPLER %q: unsupported", name)
}

// parseHeaders parses OTEL_EXPORTER_OTLP_HEADERS: key=value pairs,
// comma-separated, values URL-encoded.
func parseHeaders(v string) (map[string]string, error) {
	h := map[string]string{}
	for _, pair := range strings.Split(v, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		k, val, ok := strings.Cut(pair, "=")
		dec, err := url.QueryUnescape(strings.TrimSpace(val))
		if !ok || strings.TrimSpace(k) == "" || err != nil {
			return nil, errors.New("OTEL_EXPORTER_OTLP_HEADERS: want key=value,key=value")
		}
		h[strings.TrimSpace(k)] = dec
	}
	return h, nil
}

// handler wraps h in a server span per request (otelhttp), continuing the
// trace of an incoming traceparent header (W3C Trace Context).
func (t *tracing) handler(h http.Handler) http.Handler {
	if t == nil {
		return h
	}
	return otelhttp.NewHandler(h, "sumd", otelhttp.WithTracerProvider(t.tp), otelhttp.WithPropagators(t.prop))
}

// openMySQL opens the MySQL pool as mysql.New does, its connector wrapped
// to make a span per statement and transaction (otelsql).
func (t *tracing) openMySQL(cfg config) (*sql.DB, error) {
	if t == nil {
		return mysql.New(cfg.MySQLDSN, cfg.MySQLMaxConns)
	}
	return mysql.NewWith(cfg.MySQLDSN, cfg.MySQLMaxConns, func(c driver.Connector) *sql.DB {
		return otelsql.OpenDB(c, otelsql.WithTracerProvider(t.tp),
			otelsql.WithAttributes(attribute.String("db.system.name", "mysql")),
			otelsql.WithSpanOptions(otelsql.SpanOptions{OmitConnResetSession: true, OmitRows: true}))
	})
}

// instrumentRedis makes a span per Redis command or pipeline (redisotel).
func (t *tracing) instrumentRedis(rdb goredis.UniversalClient) error {
	if t == nil || rdb == nil {
		return nil
	}
	return redisotel.InstrumentTracing(rdb, redisotel.WithTracerProvider(t.tp))
}

// instrument traces the idempotency Store's calls (tracedStore) and the
// group-commit batches (instrumentAdder) of deps; call it before serving.
func (t *tracing) instrument(deps server.Deps) {
	if t == nil {
		return
	}
	if g := deps.Service.Guard; g != nil && g.Store != nil {
		g.Store = &tracedStore{Store: g.Store, tracer: t.tracer}
	}
	t.instrumentAdder(deps.Service.Adder)
}

// instrumentAdder gives each group-commit batch a span, a child of its
// first caller's span and linked to the others', and sets the batch size
// on every caller's span (idemsum.batch_size). Other Adders are left as
// they are.
func (t *tracing) instrumentAdder(a idemsum.Adder) {
	b, ok := a.(*groupcommit.Adder)
	if t == nil || !ok {
		return
	}
	b.FlushContext = func(callers []context.Context) (context.Context, func()) {
		size := attribute.Int("idemsum.batch_size", len(callers))
		links := make([]trace.Link, 0, len(callers))
		for _, c := range callers {
			span := trace.SpanFromContext(c)
			span.SetAttributes(size)
			links = append(links, trace.Link{SpanContext: span.SpanContext()})
		}
		parent := context.WithoutCancel(callers[0])
		ctx, span := t.tracer.Start(parent, "groupcommit.flush", trace.WithLinks(links...), trace.WithAttributes(size))
		return ctx, func() { span.End() }
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
