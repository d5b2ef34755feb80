package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/idemsum/idemsum"
	"github.com/idemsum/idemsum/idempotency"
	"github.com/idemsum/idemsum/server"
)

func TestMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	l := newLedger()
	d := deps(l, nil)
	d.Metrics, d.Gatherer = server.NewMetrics(reg), reg
	h := server.NewServer(d)
	add := request{method: http.MethodPost, target: "/sum?number=5"}.withKey("K")
	for _, r := range []request{add, add, {method: http.MethodPost, target: "/sum?number=0"}, {method: http.MethodGet, target: "/sum"}} {
		serve(t, h, r)
	}
	rec := serve(t, h, request{method: http.MethodGet, target: "/metrics"})
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: got %d, want %d", rec.Code, http.StatusOK)
	}
	body := rec.Body.String()
	for _, want := range []string{
		`idemsum_requests_total{outcome="added",route="POST /sum"} 1`,
		`idemsum_requests_total{outcome="replayed",route="POST /sum"} 1`,
		`idemsum_requests_total{outcome="invalid",route="POST /sum"} 1`,
		`idemsum_requests_total{outcome="read",route="GET /sum"} 1`,
		`idemsum_request_duration_seconds_count{outcome="added",route="POST /sum"} 1`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("metrics: got no line %q in\n%s", want, body)
		}
	}
	if strings.Contains(body, `key="K"`) || strings.Contains(body, `"K"`) {
		t.Errorf("metrics: got the raw key in\n%s, want it never exposed", body)
	}
	assertProblem(t, serve(t, h, request{method: http.MethodPost, target: "/metrics"}), http.StatusMethodNotAllowed)
}

func TestMetricsRouteOnlyWithGatherer(t *testing.T) {
	t.Parallel()
	l := newLedger()
	assertProblem(t, serve(t, newHandler(t, l, nil), request{method: http.MethodGet, target: "/metrics"}), http.StatusNotFound)
	assertUntouched(t, l, nil)
}

// TestPreferWaitHeader checks which "Prefer" headers make a duplicate of a
// request in flight wait (RFC 7240: unknown or malformed preferences are
// ignored). The store holds the key in flight and shows its record on the
// third look-up, which only a waiting request makes.
func TestPreferWaitHeader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		prefer  []string
		maxWait time.Duration
		wait    bool
	}{
		{"wait", []string{"wait=5"}, 10 * time.Second, true},
		{"upper case", []string{"WAIT=5"}, 10 * time.Second, true},
		{"among others", []string{"respond-async, wait=5"}, 10 * time.Second, true},
		{"second header", []string{"return=minimal", "wait=5"}, 10 * time.Second, true},
		{"quoted", []string{`wait="5"`}, 10 * time.Second, true},
		{"with parameter", []string{"wait=5; x=y"}, 10 * time.Second, true},
		{"spaces", []string{" wait = 5 "}, 10 * time.Second, true},
		{"no Prefer", nil, 10 * time.Second, false},
		{"zero", []string{"wait=0"}, 10 * time.Second, false},
		{"negative", []string{"wait=-1"}, 10 * time.Second, false},
		{"not a number", []string{"wait=soon"}, 10 * time.Second, false},
		{"fraction", []string{"wait=0.5"}, 10 * time.Second, false},
		{"other preference", []string{"return=minimal"}, 10 * time.Second, false},
		{"similar name", []string{"waiting=5"}, 10 * time.Second, false},
		{"no value", []string{"wait"}, 10 * time.Second, false},
		{"waiting disabled", []string{"wait=5"}, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l, s := newLedger(), newStore()
			s.inFlight, s.misses = true, 2
			s.pending = &idempotency.Record{Fingerprint: server.Fingerprint(5), Status: http.StatusOK, ContentType: "application/json", Body: idemsum.Body("5")}
			d := deps(l, s)
			d.MaxWait = tc.maxWait
			r := request{method: http.MethodPost, target: "/sum?number=5"}.withKey("K")
			r.header["Prefer"] = tc.prefer
			rec := serve(t, server.NewServer(d), r)
			if !tc.wait {
				assertProblem(t, rec, http.StatusConflict)
				return
			}
			assertReplay(t, rec, "{\"total\":5}\n")
			if got := rec.Header().Get("Preference-Applied"); got != "wait=5" {
				t.Errorf("Preference-Applied: got %q, want %q", got, "wait=5")
			}
			if adds, _ := l.seen(); len(adds) != 0 {
				t.Errorf("additions: got %v, want none", adds)
			}
		})
	}
}

// panicLedger panics in every call, standing in for a bug below the edge.
type panicLedger struct{ v any }

func (p panicLedger) Add(context.Context, []idemsum.Addition) ([]idemsum.Result, error) { panic(p.v) }
func (p panicLedger) Total(context.Context) (string, error)                             { panic(p.v) }

func TestPanicIsAProblem(t *testing.T) {
	t.Parallel()
	l := panicLedger{"boom"}
	d := server.Deps{
		Service:   &server.Service{Adder: idemsum.Unbatched(l), Ledger: l, Guard: &idempotency.Guard{}},
		PingMySQL: func(context.Context) error { return nil },
	}
	h := server.NewServer(d)
	for _, r := range []request{{method: http.MethodGet, target: "/sum"}, {method: http.MethodPost, target: "/sum?number=5"}} {
		rec := serve(t, h, r)
		assertProblem(t, rec, http.StatusInternalServerError)
		if strings.Contains(rec.Body.String(), "boom") {
			t.Errorf("body: got %q, want no panic value", rec.Body.String())
		}
	}
}

// TestPanicAbortHandlerPropagates checks that a handler aborted with
// http.ErrAbortHandler is still aborted: net/http must drop the response,
// not complete it (the recoverer re-panics it).
func TestPanicAbortHandlerPropagates(t *testing.T) {
	t.Parallel()
	l := panicLedger{http.ErrAbortHandler}
	d := server.Deps{
		Service:   &server.Service{Adder: idemsum.Unbatched(l), Ledger: l, Guard: &idempotency.Guard{}},
		PingMySQL: func(context.Context) error { return nil },
	}
	var rec *httptest.ResponseRecorder
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Errorf("recovered: got %v (response %d %q), want the panic http.ErrAbortHandler", v, rec.Code, rec.Body.String())
		}
	}()
	rec = serve(t, server.NewServer(d), request{method: http.MethodGet, target: "/sum"})
}
