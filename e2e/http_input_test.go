package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idemsum/idemsum/e2e/harness"
)

// badRequest is a request that must be refused with a 4xx problem and
// change nothing. {key} in target, header values and body is replaced by
// a fresh valid key each time, so that a request wrongly accepted leaves
// a ledger row that CheckAll notices.
type badRequest struct {
	name    string
	method  string
	target  string
	header  map[string][]string
	ctype   string
	body    string
	chunked bool // send the body without Content-Length
	want    int
	allow   bool // want an Allow header
}

var long256 = strings.Repeat("k", 256)

func jsonBad(name, body string) badRequest {
	return badRequest{name: "json " + name, method: "POST", target: "/sum", header: keyHeader("{key}"), ctype: "application/json", body: body, want: 400}
}

func queryBad(name, number string) badRequest {
	return badRequest{name: "query " + name, method: "POST", target: "/sum?key={key}&number=" + number, want: 400}
}

func keyHeader(vs ...string) map[string][]string { return map[string][]string{"Idempotency-Key": vs} }

var badRequests = []badRequest{
	jsonBad("zero", `{"number":0}`),
	jsonBad("negative", `{"number":-1}`),
	jsonBad("minus zero", `{"number":-0}`),
	jsonBad("fraction", `{"number":1.5}`),
	jsonBad("integral fraction", `{"number":5.0}`),
	jsonBad("exponent", `{"number":1e3}`),
	jsonBad("string", `{"number":"5"}`),
	jsonBad("2^63", `{"number":9223372036854775808}`),
	jsonBad("2^64", `{"number":18446744073709551616}`),
	jsonBad("huge", `{"number":1`+strings.Repeat("0", 80)+`}`),
	jsonBad("empty", `{"number":}`),
	jsonBad("empty string", `{"number":""}`),
	jsonBad("null", `{"number":null}`),
	jsonBad("bool", `{"number":true}`),
	jsonBad("array", `{"number":[5]}`),
	jsonBad("object", `{"number":{"n":5}}`),
	jsonBad("hex", `{"number":0x10}`),
	jsonBad("leading zero", `{"number":05}`),
	jsonBad("plus", `{"number":+5}`),
	jsonBad("unknown field", `{"number":5,"extra":1}`),
	jsonBad("unknown field only", `{"num":5}`),
	jsonBad("field case", `{"Number":5}`),
	jsonBad("two numbers", `{"number":5,"number":6}`),
	jsonBad("unterminated", `{"number":5`),
	jsonBad("unquoted name", `{number:5}`),
	jsonBad("trailing comma", `{"number":5,}`),
	jsonBad("array body", `[5]`),
	jsonBad("bare number", `5`),
	jsonBad("garbage", `nope`),
	jsonBad("trailing object", `{"number":5}{"number":5}`),
	jsonBad("trailing number", `{"number":5} 6`),
	jsonBad("trailing junk", `{"number":5}x`),
	queryBad("zero", "0"),
	queryBad("negative", "-1"),
	queryBad("plus sign", "%2B5"),
	queryBad("fraction", "1.5"),
	queryBad("exponent", "1e3"),
	queryBad("quoted", "%225%22"),
	queryBad("2^63", "9223372036854775808"),
	queryBad("2^64", "18446744073709551616"),
	queryBad("empty", ""),
	queryBad("leading space", "%205"),
	queryBad("trailing space", "5%20"),
	queryBad("plus as space", "+5"),
	queryBad("hex", "0x10"),
	queryBad("underscore", "1_000"),
	queryBad("fullwidth digit", "%EF%BC%95"),
	queryBad("two numbers", "5&number=6"),
	{name: "form fraction", method: "POST", target: "/sum", header: keyHeader("{key}"), ctype: "application/x-www-form-urlencoded", body: "number=1.5", want: 400},
	{name: "form empty", method: "POST", target: "/sum", header: keyHeader("{key}"), ctype: "application/x-www-form-urlencoded", body: "number=", want: 400},
	{name: "form unknown field", method: "POST", target: "/sum", header: keyHeader("{key}"), ctype: "application/x-www-form-urlencoded", body: "number=5&x=1", want: 400},
	{name: "query and body disagree", method: "POST", target: "/sum?number=6", header: keyHeader("{key}"), ctype: "application/json", body: `{"number":5}`, want: 400},
	{name: "unknown query field", method: "POST", target: "/sum?foo=1", header: keyHeader("{key}"), ctype: "application/json", body: `{"number":5}`, want: 400},
	{name: "key 256 chars", method: "POST", target: "/sum", header: keyHeader(long256), ctype: "application/json", body: `{"number":5}`, want: 400},
	{name: "key with space", method: "POST", target: "/sum", header: keyHeader("{key} x"), ctype: "application/json", body: `{"number":5}`, want: 400},
	{name: "key non-ASCII", method: "POST", target: "/sum", header: keyHeader("{key}-clé"), ctype: "application/json", body: `{"number":5}`, want: 400},
	{name: "key empty quoted", method: "POST", target: "/sum", header: keyHeader(`""`), ctype: "application/json", body: `{"number":5}`, want: 400},
	{name: "key unterminated quote", method: "POST", target: "/sum", header: keyHeader(`"{key}`), ctype: "application/json", body: `{"number":5}`, want: 400},
	{name: "query key 256 chars", method: "POST", target: "/sum?key=" + long256 + "&number=5", want: 400},
	{name: "query key with space", method: "POST", target: "/sum?key={key}%20x&number=5", want: 400},
	{name: "query key empty", method: "POST", target: "/sum?key=&number=5", want: 400},
	{name: "query key non-ASCII", method: "POST", target: "/sum?key={key}%C3%A9&number=5", want: 400},
	{name: "query key control", method: "POST", target: "/sum?key={key}%00&number=5", want: 400},
	{name: "keys header vs query", method: "POST", target: "/sum?key={key}-b", header: keyHeader("{key}-a"), ctype: "application/json", body: `{"number":5}`, want: 400},
	{name: "two key headers", method: "POST", target: "/sum", header: keyHeader("{key}-a", "{key}-b"), ctype: "application/json", body: `{"number":5}`, want: 400},
	{name: "body over 4 KiB", method: "POST", target: "/sum", header: keyHeader("{key}"), ctype: "application/json", body: `{"number":5` + strings.Repeat(" ", 5000) + `}`, want: 413},
	{name: "body over 4 KiB chunked", method: "POST", target: "/sum", header: keyHeader("{key}"), ctype: "application/json", body: `{"number":5` + strings.Repeat(" ", 5000) + `}`, chunked: true, want: 413},
	{name: "text/plain", method: "POST", target: "/sum", header: keyHeader("{key}"), ctype: "text/plain", body: `{"number":5}`, want: 415},
	{name: "no content type", method: "POST", target: "/sum", header: keyHeader("{key}"), body: `{"number":5}`, want: 415},
	{name: "xml", method: "POST", target: "/sum", header: keyHeader("{key}"), ctype: "application/xml", body: `<number>5</number>`, want: 415},
	{name: "PUT /sum", method: "PUT", target: "/sum", header: keyHeader("{key}"), ctype: "application/json", body: `{"number":5}`, want: 405, allow: true},
	{name: "DELETE /sum", method: "DELETE", target: "/sum?key={key}&number=5", want: 405, allow: true},
	{name: "PATCH /sum", method: "PATCH", target: "/sum", header: keyHeader("{key}"), ctype: "application/json", body: `{"number":5}`, want: 405, allow: true},
	{name: "PUT legacy", method: "PUT", target: "/test-sum-action?ikey={key}&number=5", want: 405, allow: true},
	{name: "DELETE legacy", method: "DELETE", target: "/test-sum-action?ikey={key}&number=5", want: 405, allow: true},
	{name: "POST /healthz", method: "POST", target: "/healthz?key={key}&number=5", want: 405, allow: true},
	{name: "GET /sum with a number", method: "GET", target: "/sum?key={key}&number=5", want: 400},
	{name: "legacy fraction", method: "GET", target: "/test-sum-action?ikey={key}&number=1.5", want: 400},
	{name: "legacy zero", method: "GET", target: "/test-sum-action?ikey={key}&number=0", want: 400},
	{name: "legacy key field", method: "GET", target: "/test-sum-action?key={key}&number=5", want: 400},
	{name: "legacy empty key", method: "GET", target: "/test-sum-action?ikey=&number=5", want: 400},
	{name: "legacy key with space", method: "GET", target: "/test-sum-action?ikey={key}+x&number=5", want: 400},
	{name: "malformed query", method: "POST", target: "/sum?key={key}&number=5&%zz", want: 400},
	{name: "unknown route", method: "POST", target: "/sums?key={key}&number=5", want: 404},
}

// sendBad sends b to in with the fresh key and checks the answer: the
// wanted status and an RFC 9457 problem body.
func sendBad(t testing.TB, in *harness.Instance, b badRequest, key string) {
	t.Helper()
	fill := func(s string) string { return strings.ReplaceAll(s, "{key}", key) }
	var body io.Reader
	if b.body != "" {
		body = strings.NewReader(fill(b.body))
		if b.chunked {
			body = io.MultiReader(body) // hides the length: chunked encoding
		}
	}
	req, err := http.NewRequest(b.method, in.URL()+fill(b.target), body)
	if err != nil {
		t.Errorf("%s: %v", b.name, err)
		return
	}
	for name, vs := range b.header {
		for _, v := range vs {
			req.Header.Add(name, fill(v))
		}
	}
	if b.ctype != "" {
		req.Header.Set("Content-Type", b.ctype)
	}
	resp, err := in.Do(harness.Client, req)
	if err != nil {
		t.Errorf("%s: %v", b.name, err)
		return
	}
	harness.CheckProblem(t, b.name, resp, b.want)
	if b.allow && !strings.Contains(resp.Header.Get("Allow"), "GET") {
		t.Errorf("%s: got Allow %q, want the allowed methods", b.name, resp.Header.Get("Allow"))
	}
}

func TestHostileInputChangesNothing(t *testing.T) {
	t.Parallel()
	c := harness.StartCluster(t, harness.Options{Instances: 2})
	initial := harness.GetTotal(t, c.Instances[0])
	res := harness.NewResults()
	var seq atomic.Int64
	key := func() string {
		return fmt.Sprintf("e2e-hostile-%s-%d", c.Prefix[len("idemsum:e2e:"):len(c.Prefix)-1], seq.Add(1))
	}

	t.Run("bad requests", func(t *testing.T) {
		for _, b := range badRequests {
			sendBad(t, c.Instances[0], b, key())
		}
		for _, in := range c.Instances {
			if got := harness.GetTotal(t, in); got.Cmp(initial) != 0 {
				t.Errorf("after %d bad requests: GET /sum on %s = %v, want %v unchanged", len(badRequests), in.Name, got, initial)
			}
		}
		harness.CheckLedger(t, c, res, initial)
	})
	t.Run("reads change nothing", func(t *testing.T) {
		checkReads(t, c.Instances[0], key(), initial)
	})
	t.Run("legacy URL", func(t *testing.T) { checkLegacy(t, c, res, key()) })
	t.Run("valid extremes", func(t *testing.T) { checkExtremes(t, c, res, key) })
	t.Run("bad requests under load", func(t *testing.T) {
		d := harness.NewDriver(t, c, res)
		done := d.Go(harness.NewKeys("hostile", harness.LoadKeys))
		var wg sync.WaitGroup
		rounds := atomic.Int64{}
		for w := range 2 {
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-done:
						return
					case <-time.After(2 * time.Millisecond): // pace, leave CPU to the load
					}
					sendBad(t, c.Instances[(w+i)%2], badRequests[(i*7+w)%len(badRequests)], key())
					rounds.Add(1)
				}
			})
		}
		harness.WaitDone(t, done, 90*time.Second)
		wg.Wait()
		t.Logf("%d bad requests interleaved with %d keys × %d copies: %s", rounds.Load(), d.Total, d.Dup, &d.Stats)
	})
	harness.CheckAll(t, c, res, initial)
}

// checkReads sends requests without a number: each reads the total and
// changes nothing, with or without a key.
func checkReads(t testing.TB, in *harness.Instance, key string, want fmt.Stringer) {
	t.Helper()
	reads := []struct {
		name, method, target, ctype, body string
		header                            map[string][]string
	}{
		{"POST /sum empty body", "POST", "/sum", "", "", keyHeader(key)},
		{"POST /sum empty JSON object", "POST", "/sum", "application/json", "{}", keyHeader(key)},
		{"POST /sum query key only", "POST", "/sum?key=" + key, "", "", nil},
		{"GET /sum with key", "GET", "/sum", "", "", keyHeader(key)},
		{"legacy without number", "GET", "/test-sum-action?ikey=" + key, "", "", nil},
	}
	for _, r := range reads {
		var body io.Reader
		if r.body != "" {
			body = strings.NewReader(r.body)
		}
		req, _ := http.NewRequestWithContext(context.Background(), r.method, in.URL()+r.target, body)
		for name, vs := range r.header {
			req.Header[name] = vs
		}
		if r.ctype != "" {
			req.Header.Set("Content-Type", r.ctype)
		}
		resp, err := in.Do(harness.Client, req)
		if err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
		if got := string(resp.Body); resp.Status != http.StatusOK || got != fmt.Sprintf("{\"total\":%v}\n", want) {
			t.Errorf("%s: got %d %q, want 200 with the unchanged total %v", r.name, resp.Status, got, want)
		}
	}
}

// checkLegacy drives GET/POST /test-sum-action?ikey=K&number=N: it adds
// once, replays byte for byte on every instance, shares its key space
// with POST /sum, and refuses the key with another number (422).
func checkLegacy(t testing.TB, c *harness.Cluster, res *harness.Results, key string) {
	t.Helper()
	k := harness.Key{Name: key, Number: 1 + rand.Uint64N(1e12)}
	target := fmt.Sprintf("/test-sum-action?ikey=%s&number=%d", url.QueryEscape(k.Name), k.Number)
	first := harness.Call(t, c.Instances[0], "GET", target, nil, "", "")
	harness.Want200(t, res, k, 0, "legacy GET", first, false)
	for i, in := range c.Instances {
		for _, method := range []string{"GET", "POST"} {
			resp := harness.Call(t, in, method, target, nil, "", "")
			harness.Want200(t, res, k, i, "legacy "+method+" again on "+in.Name, resp, true)
			if !bytes.Equal(resp.Body, first.Body) {
				t.Errorf("legacy %s again on %s: body %q, want the first body %q", method, in.Name, resp.Body, first.Body)
			}
		}
		resp, err := harness.SendOne(t.Context(), harness.Client, in, k)
		if err != nil {
			t.Fatalf("POST /sum with the legacy key: %v", err)
		}
		harness.Want200(t, res, k, i, "POST /sum with the legacy key on "+in.Name, resp, true)
		other := fmt.Sprintf("/test-sum-action?ikey=%s&number=%d", url.QueryEscape(k.Name), k.Number+1)
		harness.CheckProblem(t, "legacy key with another number on "+in.Name, harness.Call(t, in, "GET", other, nil, "", ""), http.StatusUnprocessableEntity)
	}
}

// checkExtremes makes valid additions at the edges of the input rules;
// each must add exactly once.
func checkExtremes(t testing.TB, c *harness.Cluster, res *harness.Results, key func() string) {
	t.Helper()
	in := c.Instances[0]
	add := func(what string, k harness.Key, header http.Header, target, ctype, body string) *harness.Response {
		t.Helper()
		resp := harness.Call(t, in, "POST", target, header, ctype, body)
		harness.Want200(t, res, k, 0, what, resp, false)
		return resp
	}
	jsonN := func(n uint64) string { return fmt.Sprintf(`{"number":%d}`, n) }

	k := harness.Key{Name: key() + "-" + strings.Repeat("x", 200), Number: 3}
	k.Name += strings.Repeat("y", 255-len(k.Name))
	add("key of 255 chars", k, harness.Hdr("Idempotency-Key", k.Name), "/sum", "application/json", jsonN(k.Number))

	k = harness.Key{Name: key() + `-a'b"c\d;e%f--`, Number: 4}
	add("key with quotes and backslashes", k, harness.Hdr("Idempotency-Key", k.Name), "/sum", "application/json", jsonN(k.Number))

	k = harness.Key{Name: `q"k\` + key(), Number: 5}
	quoted := `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(k.Name) + `"`
	first := add("structured-field quoted key", k, harness.Hdr("Idempotency-Key", quoted), "/sum", "application/json", jsonN(k.Number))
	again := harness.Call(t, in, "POST", "/sum?key="+url.QueryEscape(k.Name), nil, "application/json", jsonN(k.Number))
	harness.Want200(t, res, k, 0, "the quoted key again as a query field", again, true)
	if !bytes.Equal(first.Body, again.Body) {
		t.Errorf("the quoted key again as a query field: body %q, want %q", again.Body, first.Body)
	}

	base := key()
	for _, name := range []string{base + "-Case", base + "-case"} {
		k = harness.Key{Name: name, Number: 6}
		add("keys differing in case only: "+name, k, harness.Hdr("Idempotency-Key", name), "/sum", "application/json", jsonN(k.Number))
	}
	for i := range 3 {
		k = harness.Key{Name: fmt.Sprintf("%s-max-%d", key(), i), Number: 1<<63 - 1}
		add("number 2^63-1", k, harness.Hdr("Idempotency-Key", k.Name), "/sum", "application/json", jsonN(k.Number))
	}
	k = harness.Key{Name: key(), Number: 7}
	add("form body", k, nil, "/sum", "application/x-www-form-urlencoded", "key="+url.QueryEscape(k.Name)+"&number=7")
	k = harness.Key{Name: key(), Number: 8}
	add("query number", k, nil, "/sum?number=8&key="+url.QueryEscape(k.Name), "", "")
	k = harness.Key{Name: key(), Number: 9}
	add("JSON with charset and spaces", k, harness.Hdr("Idempotency-Key", k.Name), "/sum", "application/json; charset=utf-8", " {\n \"number\" : 9 } \n")
	k = harness.Key{Name: key(), Number: 10}
	add("key header with surrounding spaces", k, harness.Hdr("Idempotency-Key", " "+k.Name+" "), "/sum", "application/json", jsonN(k.Number))
}
