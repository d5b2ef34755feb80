package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/idemsum/idemsum/internal/testenv"
)

// otlpReceiver is an OTLP/HTTP trace receiver keeping the span names it
// got by trace id, and the service names.
type otlpReceiver struct {
	mu       sync.Mutex
	spans    map[string][]string
	services map[string]bool
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req collectortrace.ExportTraceServiceRequest
	if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
		http.Error(w, "bad export", http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.Key == "service.name" {
				o.services[kv.GetValue().GetStringValue()] = true
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				tid := hex.EncodeToString(s.TraceId)
				o.spans[tid] = append(o.spans[tid], s.Name)
			}
		}
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
}

// TestRunExportsTraces runs sumd with OTEL_EXPORTER_OTLP_ENDPOINT set
// (through getenv) and checks that a request's trace reaches the OTLP
// receiver by shutdown, under OTEL_SERVICE_NAME.
func TestRunExportsTraces(t *testing.T) {
	t.Parallel()
	recv := &otlpReceiver{spans: map[string][]string{}, services: map[string]bool{}}
	otlp := httptest.NewServer(recv)
	defer otlp.Close()
	env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": otlp.URL, "OTEL_SERVICE_NAME": "sumd-otlp-test"}
	_, prefix := testenv.Redis(t)
	args := []string{"sumd", "-http-addr", "127.0.0.1:0", "-mysql-dsn", testenv.MySQL(t),
		"-redis-url", testenv.RedisURL(), "-redis-prefix", prefix, "-log-level", "warn"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, outw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, args, func(k string) string { return env[k] }, outw, io.Discard)
		outw.Close()
	}()
	url := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if _, u, ok := strings.Cut(sc.Text(), "listening on "); ok {
				url <- u
			}
		}
	}()
	var base string
	select {
	case base = <-url:
	case err := <-done:
		t.Fatalf("sumd exited: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("sumd did not listen within 30s")
	}
	const tid = "5bf92f3577b34da6a3ce929d0e0e4736"
	req, _ := http.NewRequest(http.MethodPost, base+"/sum?number=3", nil)
	req.Header.Set("Idempotency-Key", "otlp-"+testenv.Unique())
	req.Header.Set("traceparent", "00-"+tid+"-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /sum: %v %v", resp, err)
	}
	resp.Body.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	recv.mu.Lock()
	defer recv.mu.Unlock()
	got := strings.Join(recv.spans[tid], ",")
	for _, want := range []string{"POST /sum", "groupcommit.flush", "idempotency.store.get", "idempotency.store.put", "sql.conn.query"} {
		if !strings.Contains(got, want) {
			t.Errorf("exported spans of trace %s: %s; want %s among them", tid, got, want)
		}
	}
	if !recv.services["sumd-otlp-test"] {
		t.Errorf("service names %v, want sumd-otlp-test", recv.services)
	}
}
