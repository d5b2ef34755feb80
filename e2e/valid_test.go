package e2e_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
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

// checkLegacy drives GET/POST /test-sum-action?ikey=K&number=N: it adds
// once, replays byte for byte on every instance, shares its key space
// with POST /sum, and refuses the key with another number (422).
func checkLegacy(t testing.TB, c *Cluster, res *Results, key string) {
	t.Helper()
	k := Key{key, 1 + rand.Uint64N(1e12)}
	target := fmt.Sprintf("/test-sum-action?ikey=%s&number=%d", url.QueryEscape(k.Name), k.Number)
	first := call(t, c.Instances[0], "GET", target, nil, "", "")
	want200(t, res, k, 0, "legacy GET", first, false)
	for i, in := range c.Instances {
		for _, method := range []string{"GET", "POST"} {
			resp := call(t, in, method, target, nil, "", "")
			want200(t, res, k, i, "legacy "+method+" again on "+in.Name, resp, true)
			if !bytes.Equal(resp.Body, first.Body) {
				t.Errorf("legacy %s again on %s: body %q, want the first body %q", method, in.Name, resp.Body, first.Body)
			}
		}
		resp, err := sendOne(t.Context(), hostileClient, in, k)
		if err != nil {
			t.Fatalf("POST /sum with the legacy key: %v", err)
		}
		want200(t, res, k, i, "POST /sum with the legacy key on "+in.Name, resp, true)
		other := fmt.Sprintf("/test-sum-action?ikey=%s&number=%d", url.QueryEscape(k.Name), k.Number+1)
		checkProblem(t, "legacy key with another number on "+in.Name, call(t, in, "GET", other, nil, "", ""), http.StatusUnprocessableEntity)
	}
}

// checkExtremes makes valid additions at the edges of the input rules;
// each must add exactly once.
func checkExtremes(t testing.TB, c *Cluster, res *Results, key func() string) {
	t.Helper()
	in := c.Instances[0]
	add := func(what string, k Key, header http.Header, target, ctype, body string) *Response {
		t.Helper()
		resp := call(t, in, "POST", target, header, ctype, body)
		want200(t, res, k, 0, what, resp, false)
		return resp
	}
	jsonN := func(n uint64) string { return fmt.Sprintf(`{"number":%d}`, n) }

	k := Key{key() + "-" + strings.Repeat("x", 200), 3}
	k.Name += strings.Repeat("y", 255-len(k.Name))
	add("key of 255 chars", k, hdr("Idempotency-Key", k.Name), "/sum", "application/json", jsonN(k.Number))

	k = Key{key() + `-a'b"c\d;e%f--`, 4}
	add("key with quotes and backslashes", k, hdr("Idempotency-Key", k.Name), "/sum", "application/json", jsonN(k.Number))

	k = Key{`q"k\` + key(), 5}
	quoted := `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(k.Name) + `"`
	first := add("structured-field quoted key", k, hdr("Idempotency-Key", quoted), "/sum", "application/json", jsonN(k.Number))
	again := call(t, in, "POST", "/sum?key="+url.QueryEscape(k.Name), nil, "application/json", jsonN(k.Number))
	want200(t, res, k, 0, "the quoted key again as a query field", again, true)
	if !bytes.Equal(first.Body, again.Body) {
		t.Errorf("the quoted key again as a query field: body %q, want %q", again.Body, first.Body)
	}

	base := key()
	for _, name := range []string{base + "-Case", base + "-case"} {
		k = Key{name, 6}
		add("keys differing in case only: "+name, k, hdr("Idempotency-Key", name), "/sum", "application/json", jsonN(k.Number))
	}
	for i := range 3 {
		k = Key{fmt.Sprintf("%s-max-%d", key(), i), 1<<63 - 1}
		add("number 2^63-1", k, hdr("Idempotency-Key", k.Name), "/sum", "application/json", jsonN(k.Number))
	}
	k = Key{key(), 7}
	add("form body", k, nil, "/sum", "application/x-www-form-urlencoded", "key="+url.QueryEscape(k.Name)+"&number=7")
	k = Key{key(), 8}
	add("query number", k, nil, "/sum?number=8&key="+url.QueryEscape(k.Name), "", "")
	k = Key{key(), 9}
	add("JSON with charset and spaces", k, hdr("Idempotency-Key", k.Name), "/sum", "application/json; charset=utf-8", " {\n \"number\" : 9 } \n")
	k = Key{key(), 10}
	add("key header with surrounding spaces", k, hdr("Idempotency-Key", " "+k.Name+" "), "/sum", "application/json", jsonN(k.Number))
}
