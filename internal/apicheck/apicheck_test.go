package apicheck_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/idemsum/idemsum/internal/apicheck"
	"github.com/idemsum/idemsum/server"
)

func exchange(method, target string, status int, rheader map[string]string, body string) apicheck.Exchange {
	u, _ := url.Parse("http://sumd" + target)
	h := http.Header{}
	for k, v := range rheader {
		h.Set(k, v)
	}
	return apicheck.Exchange{Method: method, URL: u, Header: http.Header{}, Status: status, RHeader: h, RBody: []byte(body)}
}

// TestCheckerCatchesDrift checks that each kind of drift between the
// server and the description is caught, and that right answers pass.
func TestCheckerCatchesDrift(t *testing.T) {
	t.Parallel()
	c, err := apicheck.New(server.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	jsonNS := map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"}
	stringNS := map[string]string{"Content-Type": "application/json; total=string", "Cache-Control": "no-store"}
	problem := map[string]string{"Content-Type": "application/problem+json", "Cache-Control": "no-store"}
	retry := map[string]string{"Content-Type": "application/problem+json", "Cache-Control": "no-store", "Retry-After": "1"}
	stats := `{"end":1,"seconds":2,"redis":"up","added":[0,1],"replayed":[0,0],"conflicts":[0,0],"errors":[0,0],"p50_ms":[null,1.5],"p99_ms":[null,2],"redis_up":[null,true]}`
	tests := []struct {
		name string
		x    apicheck.Exchange
		ok   bool
	}{
		{"total", exchange("POST", "/sum?number=5", 200, jsonNS, `{"total":5}`), true},
		{"huge total", exchange("GET", "/sum", 200, jsonNS, `{"total":123456789012345678901234567890}`), true},
		{"total as string", exchange("POST", "/sum?number=5", 200, jsonNS, `{"total":"5"}`), false},
		{"string form", exchange("POST", "/sum?number=5", 200, stringNS, `{"total":"5"}`), true},
		{"string form with a number", exchange("POST", "/sum?number=5", 200, stringNS, `{"total":5}`), false},
		{"string form not digits", exchange("GET", "/sum", 200, stringNS, `{"total":"5e3"}`), false},
		{"extra member", exchange("POST", "/sum?number=5", 200, jsonNS, `{"total":5,"x":1}`), false},
		{"cache-control", exchange("POST", "/sum?number=5", 200, map[string]string{"Content-Type": "application/json", "Cache-Control": "max-age=5"}, `{"total":5}`), false},
		{"undocumented status", exchange("POST", "/sum?number=5", 201, jsonNS, `{"total":5}`), false},
		{"409 without Retry-After", exchange("POST", "/sum?number=5", 409, problem,
			`{"type":"urn:idemsum:problem:in-flight","title":"Conflict","status":409,"detail":"x","outcome":"not-added"}`), false},
		{"problem of the wrong type", exchange("POST", "/sum?number=5", 422, problem,
			`{"type":"urn:idemsum:problem:in-flight","title":"x","status":422,"detail":"x","outcome":"not-added"}`), false},
		{"problem", exchange("POST", "/sum?number=5", 422, problem,
			`{"type":"urn:idemsum:problem:key-reused","title":"x","status":422,"detail":"x","outcome":"not-added"}`), true},
		{"problem without outcome", exchange("POST", "/sum?number=5", 422, problem,
			`{"type":"urn:idemsum:problem:key-reused","title":"x","status":422,"detail":"x"}`), false},
		{"4xx of unknown outcome", exchange("POST", "/sum?number=5", 422, problem,
			`{"type":"urn:idemsum:problem:key-reused","title":"x","status":422,"detail":"x","outcome":"unknown"}`), false},
		{"503 not added", exchange("POST", "/sum?number=5", 503, retry,
			`{"type":"urn:idemsum:problem:unavailable","title":"x","status":503,"detail":"x","outcome":"not-added"}`), true},
		{"503 outcome unknown", exchange("POST", "/sum?number=5", 503, retry,
			`{"type":"urn:idemsum:problem:outcome-unknown","title":"x","status":503,"detail":"x","outcome":"unknown"}`), true},
		{"503 outcome unknown said not added", exchange("POST", "/sum?number=5", 503, retry,
			`{"type":"urn:idemsum:problem:outcome-unknown","title":"x","status":503,"detail":"x","outcome":"not-added"}`), false},
		{"503 of a read, outcome unknown", exchange("GET", "/sum", 503, retry,
			`{"type":"urn:idemsum:problem:outcome-unknown","title":"x","status":503,"detail":"x","outcome":"unknown"}`), false},
		{"431", exchange("GET", "/healthz", 431, map[string]string{"Content-Type": "application/problem+json"},
			`{"type":"urn:idemsum:problem:headers-too-large","title":"x","status":431,"detail":"x","outcome":"not-added"}`), true},
		{"accepted a bad number", exchange("POST", "/sum?number=abc", 200, jsonNS, `{"total":5}`), false},
		{"refused a bad number", exchange("POST", "/sum?number=abc", 400, problem,
			`{"type":"urn:idemsum:problem:invalid-input","title":"x","status":400,"detail":"x","outcome":"not-added"}`), true},
		{"readyz", exchange("GET", "/readyz", 200, map[string]string{"Content-Type": "application/json"}, `{"status":"degraded","mysql":"up","redis":"down","redis_reason":"oom"}`), true},
		{"readyz unknown status", exchange("GET", "/readyz", 200, map[string]string{"Content-Type": "application/json"}, `{"status":"fine","mysql":"up","redis":"up"}`), false},
		{"stats", exchange("GET", "/stats", 200, jsonNS, stats), true},
		{"stats null count", exchange("GET", "/stats", 200, jsonNS, strings.Replace(stats, `"added":[0,1]`, `"added":[null,1]`, 1)), false},
		{"405 without Allow", exchange("DELETE", "/sum", 405, problem,
			`{"type":"urn:idemsum:problem:method-not-allowed","title":"x","status":405,"detail":"x","outcome":"not-added"}`), false},
		{"404", exchange("GET", "/nope", 404, problem, `{"type":"urn:idemsum:problem:not-found","title":"x","status":404,"detail":"x","outcome":"not-added"}`), true},
		{"200 on an unknown path", exchange("GET", "/nope", 200, jsonNS, `{}`), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := c.Check(tt.x); (err == nil) != tt.ok {
				t.Errorf("Check: got %v, want ok=%v", err, tt.ok)
			}
		})
	}
}
