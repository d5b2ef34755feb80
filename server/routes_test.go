package server_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/idemsum/idemsum/idempotency"
	"github.com/idemsum/idemsum/server"
)

func TestNotFound(t *testing.T) {
	t.Parallel()
	tests := []request{
		{method: http.MethodPost, target: "/"},
		{method: http.MethodPost, target: "/nope?number=5"},
		{method: http.MethodPost, target: "/sum/?number=5"},
		{method: http.MethodPost, target: "/sum/x?number=5"},
		{method: http.MethodPost, target: "/SUM?number=5"},
		{method: http.MethodPost, target: "/Sum?number=5"},
		{method: http.MethodGet, target: "/test-sum-action/?ikey=k&number=5"},
		{method: http.MethodGet, target: "/test-sum-actions?ikey=k&number=5"},
		{method: http.MethodGet, target: "/healthz/"},
		{method: http.MethodGet, target: "/metrics/x"},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			t.Parallel()
			l, s := newLedger(), newStore()
			rec := serve(t, newHandler(t, l, s), tc)
			assertProblem(t, rec, http.StatusNotFound)
			assertUntouched(t, l, s)
		})
	}
}

func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		method, target string
		allow          []string
	}{
		{http.MethodPut, "/sum?number=5", []string{"GET", "HEAD", "OPTIONS", "POST"}},
		{http.MethodPatch, "/sum?number=5", []string{"GET", "HEAD", "OPTIONS", "POST"}},
		{http.MethodDelete, "/sum?number=5", []string{"GET", "HEAD", "OPTIONS", "POST"}},
		{http.MethodTrace, "/sum", []string{"GET", "HEAD", "OPTIONS", "POST"}},
		{"post", "/sum?number=5", []string{"GET", "HEAD", "OPTIONS", "POST"}},
		{"FROB", "/sum?number=5", []string{"GET", "HEAD", "OPTIONS", "POST"}},
		{http.MethodHead, "/test-sum-action?ikey=k&number=5", []string{"GET", "OPTIONS", "POST"}},
		{http.MethodHead, "/test-sum-action?number=5", []string{"GET", "OPTIONS", "POST"}},
		{http.MethodHead, "/test-sum-action", []string{"GET", "OPTIONS", "POST"}},
		{http.MethodPut, "/test-sum-action?ikey=k&number=5", []string{"GET", "OPTIONS", "POST"}},
		{http.MethodDelete, "/test-sum-action?ikey=k&number=5", []string{"GET", "OPTIONS", "POST"}},
		{http.MethodPost, "/healthz", []string{"GET", "HEAD"}},
		{http.MethodDelete, "/healthz", []string{"GET", "HEAD"}},
		{http.MethodPost, "/readyz", []string{"GET", "HEAD"}},
		{http.MethodPut, "/readyz", []string{"GET", "HEAD"}},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			t.Parallel()
			l, s := newLedger(), newStore()
			r := request{method: tc.method, target: tc.target}.withKey("k")
			rec := serve(t, newHandler(t, l, s), r)
			assertProblem(t, rec, http.StatusMethodNotAllowed)
			assertUntouched(t, l, s)
			if got := allowed(rec.Header().Get("Allow")); !slices.Equal(got, tc.allow) {
				t.Errorf("Allow: got %q, want %q", got, tc.allow)
			}
		})
	}
}

// allowed returns the sorted methods of an Allow header.
func allowed(h string) []string {
	var ms []string
	for m := range strings.SplitSeq(h, ",") {
		if m = strings.TrimSpace(m); m != "" {
			ms = append(ms, m)
		}
	}
	slices.Sort(ms)
	return ms
}

func TestBodyTooLarge(t *testing.T) {
	t.Parallel()
	padded := func(n int) string {
		const obj = `{"number":5}`
		return obj + strings.Repeat(" ", n-len(obj))
	}
	tests := []struct {
		name string
		req  request
		want int
	}{
		{"JSON at the limit", jsonBody("/sum", padded(server.MaxBody)), http.StatusOK},
		{"JSON at the limit, chunked", request{method: http.MethodPost, target: "/sum", ctype: "application/json", body: padded(server.MaxBody), chunked: true}, http.StatusOK},
		{"JSON over the limit", jsonBody("/sum", padded(server.MaxBody+1)), http.StatusRequestEntityTooLarge},
		{"JSON over the limit, chunked", request{method: http.MethodPost, target: "/sum", ctype: "application/json", body: padded(server.MaxBody + 1), chunked: true}, http.StatusRequestEntityTooLarge},
		{"form over the limit", formBody("/sum", "number=5&key="+strings.Repeat("k", server.MaxBody)), http.StatusRequestEntityTooLarge},
		{"huge body", jsonBody("/sum", padded(1<<20)), http.StatusRequestEntityTooLarge},
		{"legacy over the limit", request{method: http.MethodGet, target: "/test-sum-action?ikey=k&number=5", ctype: "application/json", body: padded(server.MaxBody + 1)}, http.StatusRequestEntityTooLarge},
		{"GET /sum over the limit", request{method: http.MethodGet, target: "/sum", ctype: "application/json", body: padded(server.MaxBody + 1)}, http.StatusRequestEntityTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l, s := newLedger(), newStore()
			rec := serve(t, newHandler(t, l, s), tc.req.withKey("k"))
			if tc.want == http.StatusOK {
				assertTotal(t, rec, "5")
				return
			}
			assertProblem(t, rec, tc.want)
			assertUntouched(t, l, s)
		})
	}
}

func TestUnsupportedMediaType(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		ctype string
		body  string
	}{
		{"no Content-Type", "", `{"number":5}`},
		{"text/plain", "text/plain", "5"},
		{"XML", "application/xml", "<number>5</number>"},
		{"multipart", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"number\"\r\n\r\n5\r\n--x--\r\n"},
		{"JSON-like suffix", "application/merge-patch+json", `{"number":5}`},
		{"malformed media type", "application/json;;", `{"number":5}`},
		{"octet-stream", "application/octet-stream", "\x05"},
	}
	for _, tc := range tests {
		for _, target := range []string{"/sum", "/test-sum-action?ikey=k"} {
			t.Run(tc.name+" "+target, func(t *testing.T) {
				t.Parallel()
				l, s := newLedger(), newStore()
				r := request{method: http.MethodPost, target: target, body: tc.body}
				if tc.ctype != "" {
					r.header = http.Header{"Content-Type": {tc.ctype}}
				}
				rec := serve(t, newHandler(t, l, s), r)
				assertProblem(t, rec, http.StatusUnsupportedMediaType)
				assertUntouched(t, l, s)
			})
		}
	}
}

// failingBody yields part of a JSON body, then err: a client that stalled
// past the server's read timeout (os.ErrDeadlineExceeded) or hung up.
type failingBody struct {
	part string
	err  error
}

func (b *failingBody) Read(p []byte) (int, error) {
	if b.part == "" {
		return 0, b.err
	}
	n := copy(p, b.part)
	b.part = b.part[n:]
	return n, nil
}

func (b *failingBody) Close() error { return nil }

func TestBodyCutOff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"read timeout", fmt.Errorf("read tcp: %w", os.ErrDeadlineExceeded), http.StatusRequestTimeout},
		{"client hung up", io.ErrUnexpectedEOF, http.StatusBadRequest},
	}
	for _, tc := range tests {
		for _, target := range []string{"/sum", "/test-sum-action?ikey=k"} {
			t.Run(tc.name+" "+target, func(t *testing.T) {
				t.Parallel()
				l, s := newLedger(), newStore()
				req := httptest.NewRequest(http.MethodPost, target, nil)
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set(idempotency.HeaderKey, "k")
				req.ContentLength = 20
				req.Body = &failingBody{part: `{"number":`, err: tc.err}
				rec := httptest.NewRecorder()
				newHandler(t, l, s).ServeHTTP(rec, req)
				checkAPI(t, req, `{"number":`, rec)
				assertProblem(t, rec, tc.want)
				assertUntouched(t, l, s)
			})
		}
	}
}
