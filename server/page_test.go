package server_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestPage checks the headers of the page at /: its type, no sniffing,
// and a Content-Security-Policy that allows only inline code, requests to
// the service itself, and no framing.
func TestPage(t *testing.T) {
	t.Parallel()
	rec := serve(t, newHandler(t, newLedger(), newStore()), request{method: http.MethodGet, target: "/"})
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "<html") {
		t.Fatalf("GET /: got %d %.40q, want 200 and the page", rec.Code, rec.Body.String())
	}
	headers := []struct{ name, want string }{
		{"Content-Type", "text/html; charset=utf-8"},
		{"X-Content-Type-Options", "nosniff"},
		{"Cache-Control", "no-cache"},
	}
	for _, h := range headers {
		t.Run(h.name, func(t *testing.T) {
			if got := rec.Header().Values(h.name); !slices.Equal(got, []string{h.want}) {
				t.Errorf("%s: got %q, want %q", h.name, got, h.want)
			}
		})
	}
	t.Run("Content-Security-Policy", func(t *testing.T) { assertPolicy(t, rec.Header().Get("Content-Security-Policy")) })
}

// assertPolicy checks the page's Content-Security-Policy, directive by
// directive in any order.
func assertPolicy(tb testing.TB, csp string) {
	tb.Helper()
	var directives []string
	for d := range strings.SplitSeq(csp, ";") {
		directives = append(directives, strings.Join(strings.Fields(d), " "))
	}
	slices.Sort(directives)
	want := []string{"connect-src 'self'", "default-src 'none'", "frame-ancestors 'none'", "script-src 'unsafe-inline'", "style-src 'unsafe-inline'"}
	if !slices.Equal(directives, want) {
		tb.Errorf("Content-Security-Policy directives: got %q, want %q", directives, want)
	}
}
