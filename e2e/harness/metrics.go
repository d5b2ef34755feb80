package harness

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Metrics returns every sample of in's /metrics by its series,
// such as `idemsum_auth_denied_total{reason="bad_token"}`.
func Metrics(t testing.TB, in *Instance) map[string]float64 {
	t.Helper()
	resp := Call(t, in, http.MethodGet, "/metrics", nil, "", "")
	if resp.Status != http.StatusOK {
		t.Fatalf("GET /metrics on %s: status %d", in.Name, resp.Status)
	}
	m := map[string]float64{}
	for _, line := range strings.Split(string(resp.Body), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("/metrics on %s: %q: %v", in.Name, line, err)
		}
		m[line[:i]] = v
	}
	return m
}

// MetricWhere sums the samples of m whose series starts with prefix, such
// as `idemsum_client_requests_total{client="alice"`.
func MetricWhere(m map[string]float64, prefix string) float64 {
	sum := 0.0
	for series, v := range m {
		if strings.HasPrefix(series, prefix) {
			sum += v
		}
	}
	return sum
}

// WaitMetric polls in's /metrics until series has the value want, failing
// t after d.
func WaitMetric(t testing.TB, in *Instance, series string, want float64, d time.Duration) {
	t.Helper()
	var got float64
	if !WaitFor(t.Context(), d, func() bool { got = Metrics(t, in)[series]; return got == want }) {
		t.Fatalf("%s: %s = %v after %v, want %v", in.Name, series, got, d, want)
	}
}

// MetricSum returns the sum over c's live instances of every sample of
// the Prometheus metric name (all its label sets).
func MetricSum(t testing.TB, c *Cluster, name string) float64 {
	t.Helper()
	sum := 0.0
	for _, in := range c.Live() {
		for series, v := range Metrics(t, in) {
			if series == name || strings.HasPrefix(series, name+"{") {
				sum += v
			}
		}
	}
	return sum
}
