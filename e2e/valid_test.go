package e2e_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// call sends one request to in and returns the whole response.
func call(t testing.TB, in *Instance, method, target string, header http.Header, ctype, body string) *Response {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, in.URL()+target, r)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	for name, vs := range header {
		req.Header[name] = vs
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := do(hostileClient, req)
	if err != nil {
		t.Fatalf("%s %s on %s: %v", method, target, in.Name, err)
	}
	return resp
}

// want200 asserts a 200 {"total":N} JSON response, replayed or not as
// wanted, and records it for k.
func want200(t testing.TB, res *Results, k Key, inst int, what string, resp *Response, replayed bool) {
	t.Helper()
	if resp.Status != http.StatusOK || resp.Replayed != replayed {
		t.Errorf("%s: got %d (replayed=%v) %s, want 200 with replayed=%v", what, resp.Status, resp.Replayed, resp.Body, replayed)
		return
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: got Content-Type %q, want application/json", what, ct)
	}
	if _, err := parseTotal(resp.Body); err != nil {
		t.Errorf("%s: %v", what, err)
	}
	res.Record(k, inst, resp)
}

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}
