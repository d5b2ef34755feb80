package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/idemsum/idemsum/internal/testenv"
)

// otlpReceiver is an OTLP trace receiver, over HTTP (ServeHTTP) or gRPC
// (Export), keeping the span names it got by trace id and the resources'
// attributes.
type otlpReceiver struct {
	collectortrace.UnimplementedTraceServiceServer
	mu        sync.Mutex
	spans     map[string][]string
	resources []map[string]string
}

func newReceiver() *otlpReceiver { return &otlpReceiver{spans: map[string][]string{}} }

func (o *otlpReceiver) keep(req *collectortrace.ExportTraceServiceRequest) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		attrs := map[string]string{}
		for _, kv := range rs.GetResource().GetAttributes() {
			attrs[kv.Key] = kv.GetValue().GetStringValue()
		}
		o.resources = append(o.resources, attrs)
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				tid := hex.EncodeToString(s.TraceId)
				o.spans[tid] = append(o.spans[tid], s.Name)
			}
		}
	}
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req collectortrace.ExportTraceServiceRequest
	if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
		http.Error(w, "bad export", http.StatusBadRequest)
		return
	}
	o.keep(&req)
	w.Header().Set("Content-Type", "application/x-protobuf")
}

func (o *otlpReceiver) Export(_ context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	o.keep(req)
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

// serveOTLP serves recv over protocol (http/protobuf or grpc) on a port
// of its own until t ends, and returns its endpoint URL.
func serveOTLP(t *testing.T, recv *otlpReceiver, protocol string) string {
	t.Helper()
	if protocol == "http/protobuf" {
		srv := httptest.NewServer(recv)
		t.Cleanup(srv.Close)
		return srv.URL
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	collectortrace.RegisterTraceServiceServer(srv, recv)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	return "http://" + ln.Addr().String()
}

// TestRunExportsTraces runs sumd as a process with the standard OTEL_*
// variables, over each OTLP protocol, and checks that a request's trace
// reaches the receiver by shutdown with its spans, under a resource made
// of OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES and service.version, and
// that the request's log line carries its trace_id and span_id.
func TestRunExportsTraces(t *testing.T) {
	t.Parallel()
	for _, protocol := range []string{"http/protobuf", "grpc"} {
		t.Run(strings.ReplaceAll(protocol, "/", "-"), func(t *testing.T) {
			t.Parallel()
			recv := newReceiver()
			env := []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + serveOTLP(t, recv, protocol), "OTEL_EXPORTER_OTLP_PROTOCOL=" + protocol,
				"OTEL_SERVICE_NAME=sumd-otlp-test", "OTEL_RESOURCE_ATTRIBUTES=deployment.environment.name=test,team=sums"}
			p := sumdProcessEnv(t, env, "-shutdown-delay", "0", "-log-level", "info")
			const tid, parent = "5bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
			req, _ := http.NewRequest(http.MethodPost, p.URL+"/sum?number=3", nil)
			req.Header.Set("Idempotency-Key", "otlp-"+testenv.Unique())
			req.Header.Set("traceparent", "00-"+tid+"-"+parent+"-01")
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("POST /sum: %v %v", resp, err)
			}
			resp.Body.Close()
			p.signal(t, syscall.SIGTERM)
			select {
			case <-p.exited:
			case <-time.After(60 * time.Second):
				t.Fatal("sumd did not exit within 60s of SIGTERM")
			}
			if !p.cmd.ProcessState.Success() {
				t.Fatalf("sumd exited %v, want 0", p.cmd.ProcessState)
			}
			recv.mu.Lock()
			defer recv.mu.Unlock()
			got := strings.Join(recv.spans[tid], ",")
			for _, want := range []string{"POST /sum", "groupcommit.flush", "idempotency.store.get", "idempotency.store.put", "sql.conn.query"} {
				if !strings.Contains(got, want) {
					t.Errorf("exported spans of trace %s: %s; want %s among them", tid, got, want)
				}
			}
			if len(recv.resources) == 0 {
				t.Fatal("no resource exported")
			}
			res := recv.resources[0]
			for k, want := range map[string]string{"service.name": "sumd-otlp-test", "deployment.environment.name": "test", "team": "sums", "telemetry.sdk.language": "go"} {
				if res[k] != want {
					t.Errorf("resource %s = %q, want %q (resource %v)", k, res[k], want, res)
				}
			}
			if res["service.version"] == "" {
				t.Errorf("resource has no service.version: %v", res)
			}
			checkTraceLogged(t, p.stderr.String(), tid, parent)
		})
	}
}

// checkTraceLogged fails t unless log has a request line with trace_id
// tid and the span_id of sumd's own server span (not the caller's
// parent).
func checkTraceLogged(t *testing.T, log, tid, parent string) {
	t.Helper()
	for line := range strings.SplitSeq(log, "\n") {
		var l struct{ Msg, TraceID, SpanID string }
		var raw map[string]any
		if json.Unmarshal([]byte(line), &raw) != nil || raw["msg"] != "request" {
			continue
		}
		l.TraceID, _ = raw["trace_id"].(string)
		l.SpanID, _ = raw["span_id"].(string)
		if l.TraceID == tid {
			if len(l.SpanID) != 16 || l.SpanID == parent {
				t.Errorf("request line %s: span_id %q, want the server span's (16 hex digits, not the caller's %s)", line, l.SpanID, parent)
			}
			return
		}
	}
	t.Errorf("no request line with trace_id %s in the log:\n%s", tid, log)
}
