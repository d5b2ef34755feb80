package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/idemsum/idemsum/internal/testenv"
	"github.com/idemsum/idemsum/mysql"
	"github.com/idemsum/idemsum/redis"
	"github.com/idemsum/idemsum/server"
)

func TestTracingOffUnlessConfigured(t *testing.T) {
	t.Parallel()
	for _, env := range []map[string]string{
		{},
		{"OTEL_SERVICE_NAME": "x", "OTEL_TRACES_SAMPLER": "always_on"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "true"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_TRACES_EXPORTER": "none"},
	} {
		tr, err := newTracing(func(k string) string { return env[k] })
		if err != nil || tr != nil {
			t.Errorf("env %v: got %v, %v; want tracing off", env, tr, err)
		}
		mux := http.NewServeMux()
		if got := tr.handler(mux); got != http.Handler(mux) {
			t.Errorf("env %v: handler wrapped with tracing off", env)
		}
	}
}

func TestTracingRefusesBadSettings(t *testing.T) {
	t.Parallel()
	for _, env := range []map[string]string{
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_TRACES_SAMPLER": "sometimes"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "thrift"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_EXPORTER_OTLP_HEADERS": "novalue"},
	} {
		if tr, err := newTracing(func(k string) string { return env[k] }); err == nil {
			tr.shutdown()
			t.Errorf("env %v: got no error, want one", env)
		}
	}
}

// tracedStack is sumd's stack as run wires it, with tracing into an
// in-memory exporter.
func tracedStack(t *testing.T) (*httptest.Server, *tracetest.InMemoryExporter) {
	t.Helper()
	_, prefix := testenv.Redis(t)
	cfg, err := parseConfig([]string{"-mysql-dsn", testenv.MySQL(t), "-redis-url", testenv.RedisURL(), "-redis-prefix", prefix}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	exp := tracetest.NewInMemoryExporter()
	tr := newTracingWith(sdktrace.NewSimpleSpanProcessor(exp), sdktrace.ParentBased(sdktrace.AlwaysSample()),
		resource.NewSchemaless(attribute.String("service.name", "sumd-test")))
	t.Cleanup(tr.shutdown)
	db, err := tr.openMySQL(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	id, err := mysql.Prepare(t.Context(), db, func(string, string) {})
	if err != nil {
		t.Fatal(err)
	}
	rdb, _, err := redis.Open(cfg.redisOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	if err := tr.instrumentRedis(rdb); err != nil {
		t.Fatal(err)
	}
	w := wire(t.Context(), cfg, db, rdb, id, nil, slog.New(slog.DiscardHandler))
	t.Cleanup(w.Close)
	tr.instrument(w)
	srv := httptest.NewServer(tr.handler(server.NewServer(w.Deps)))
	t.Cleanup(srv.Close)
	return srv, exp
}

// post sends POST /sum?number=n with key and a traceparent of trace id
// tid and parent span id sid, and returns the status.
func post(t *testing.T, url, key, n, tid, sid string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/sum?number="+n, nil)
	req.Header.Set("Idempotency-Key", key)
	req.Header.Set("traceparent", "00-"+tid+"-"+sid+"-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// spansOf returns the ended spans of trace tid.
func spansOf(exp *tracetest.InMemoryExporter, tid string) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.SpanContext.TraceID().String() == tid {
			out = append(out, s)
		}
	}
	return out
}

func attr(s tracetest.SpanStub, key string) string {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value.String()
		}
	}
	return ""
}

// under reports whether s descends from the span ancestor within spans.
func under(spans []tracetest.SpanStub, s tracetest.SpanStub, ancestor trace.SpanID) bool {
	byID := map[trace.SpanID]tracetest.SpanStub{}
	for _, x := range spans {
		byID[x.SpanContext.SpanID()] = x
	}
	for p := s.Parent.SpanID(); p.IsValid(); {
		if p == ancestor {
			return true
		}
		x, ok := byID[p]
		if !ok {
			return false
		}
		p = x.Parent.SpanID()
	}
	return false
}

// TestTracingSpanTree checks that one addition, with a traceparent,
// yields a server span continuing that trace with the outcome and the
// batch size, and under it Redis spans, the group-commit batch and its
// MySQL spans; a replay and a mismatch carry their outcomes.
func TestTracingSpanTree(t *testing.T) {
	t.Parallel()
	srv, exp := tracedStack(t)
	key := "trace-" + testenv.Unique()
	const tid, sid = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	if got := post(t, srv.URL, key, "5", tid, sid); got != http.StatusOK {
		t.Fatalf("POST /sum: got %d, want 200", got)
	}
	spans := spansOf(exp, tid)
	var root *tracetest.SpanStub
	for i, s := range spans {
		if s.SpanKind == trace.SpanKindServer {
			root = &spans[i]
		}
	}
	if root == nil {
		t.Fatalf("no server span in trace %s; spans: %v", tid, names(spans))
	}
	if root.Name != "POST /sum" || root.Parent.SpanID().String() != sid || !root.Parent.IsRemote() {
		t.Errorf("server span %q with parent %v (remote %v), want POST /sum under the incoming %s", root.Name, root.Parent.SpanID(), root.Parent.IsRemote(), sid)
	}
	if got := attr(*root, "idemsum.outcome"); got != "added" {
		t.Errorf("idemsum.outcome = %q, want added", got)
	}
	if got := attr(*root, "idemsum.batch_size"); got != "1" {
		t.Errorf("idemsum.batch_size = %q, want 1", got)
	}
	t.Logf("trace %s: %s", tid, names(spans))
	counts := map[string]int{}
	for _, s := range spans {
		if !under(spans, s, root.SpanContext.SpanID()) {
			continue
		}
		switch {
		case s.Name == "groupcommit.flush":
			counts["flush"]++
		case attr(s, "db.system.name") == "mysql" && under(spans, s, flushID(spans)):
			counts["mysql"]++
		case attr(s, "db.system") == "redis" || attr(s, "db.system.name") == "redis":
			counts["redis"]++
		}
	}
	if counts["flush"] != 1 || counts["mysql"] == 0 || counts["redis"] == 0 {
		t.Errorf("under the server span: %v, want 1 groupcommit.flush with MySQL spans under it, and Redis spans; spans: %v", counts, names(spans))
	}
	const tid2, tid3 = "4bf92f3577b34da6a3ce929d0e0e4737", "4bf92f3577b34da6a3ce929d0e0e4738"
	post(t, srv.URL, key, "5", tid2, sid)
	post(t, srv.URL, key, "6", tid3, sid)
	for tid, want := range map[string]string{tid2: "replayed", tid3: "mismatch"} {
		for _, s := range spansOf(exp, tid) {
			if s.SpanKind == trace.SpanKindServer && attr(s, "idemsum.outcome") != want {
				t.Errorf("trace %s: idemsum.outcome = %q, want %s", tid, attr(s, "idemsum.outcome"), want)
			}
		}
	}
}

func flushID(spans []tracetest.SpanStub) trace.SpanID {
	for _, s := range spans {
		if s.Name == "groupcommit.flush" {
			return s.SpanContext.SpanID()
		}
	}
	return trace.SpanID{}
}

func names(spans []tracetest.SpanStub) string {
	var b strings.Builder
	for _, s := range spans {
		b.WriteString(s.Name + "(" + s.Parent.SpanID().String() + "→" + s.SpanContext.SpanID().String() + ") ")
	}
	return b.String()
}
