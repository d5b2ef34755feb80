package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Client is the HTTP client of the tests' single requests: its 10 s
// timeout is far beyond any answer of a healthy instance, so that only a
// real stall fails a request, not a slow machine.
var Client = &http.Client{Timeout: 10 * time.Second}

// Response is a response read in full.
type Response struct {
	Status   int
	Header   http.Header
	Body     []byte
	Replayed bool
}

// Do sends req with client and reads the whole response (up to 64 KiB).
// It checks the exchange against server/openapi.json; StartCluster's
// Cleanup fails the Cluster's test for every exchange the description
// does not allow. Requests to a proxy in front of c's instances go through
// c.Do too.
func (c *Cluster) Do(client *http.Client, req *http.Request) (*Response, error) {
	reqBody := requestBody(req)
	resp, err := do(client, req)
	if err == nil {
		c.api.check(req, reqBody, resp)
	}
	return resp, err
}

// Do is in's Cluster's Do, except that the exchanges with a run of
// another sumd binary (Options.InstanceBinary, SetBinary: another
// release) are not checked: that release answers by its own description.
func (in *Instance) Do(client *http.Client, req *http.Request) (*Response, error) {
	in.mu.Lock()
	other := in.other
	in.mu.Unlock()
	if other {
		return do(client, req)
	}
	return in.c.Do(client, req)
}

// do sends req with client and reads the whole response (up to 64 KiB).
func do(client *http.Client, req *http.Request) (*Response, error) {
	hr, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer hr.Body.Close()
	body, err := io.ReadAll(io.LimitReader(hr.Body, 1<<16))
	if err != nil {
		return nil, err
	}
	return &Response{
		Status:   hr.StatusCode,
		Header:   hr.Header,
		Body:     body,
		Replayed: hr.Header.Get("Idempotent-Replayed") == "true",
	}, nil
}

// Call sends one request to in with Client and returns the whole
// response, failing t on a transport error.
func Call(t testing.TB, in *Instance, method, target string, header http.Header, ctype, body string) *Response {
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
	resp, err := in.Do(Client, req)
	if err != nil {
		t.Fatalf("%s %s on %s: %v", method, target, in.Name, err)
	}
	return resp
}

// SendOne posts {"number": k.Number} with key k.Name to in once.
func SendOne(ctx context.Context, c *http.Client, in *Instance, k Key) (*Response, error) {
	body := fmt.Sprintf(`{"number":%d}`, k.Number)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.URL()+"/sum", bytes.NewReader([]byte(body)))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", k.Name)
	return in.Do(c, req)
}

// Hdr returns the header of the name, value pairs kv.
func Hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// totalBody is the exact shape of every 200 body: {"total":N} and a newline.
var totalBody = regexp.MustCompile(`^\{"total":(0|[1-9][0-9]*)\}\n$`)

// ParseTotal returns N of a {"total":N} body.
func ParseTotal(body []byte) (*big.Int, error) {
	m := totalBody.FindSubmatch(body)
	if m == nil {
		return nil, fmt.Errorf(`body %q is not {"total":N} and a newline`, body)
	}
	n, _ := new(big.Int).SetString(string(m[1]), 10)
	return n, nil
}

// GetTotal reads GET /sum from in, failing t for anything but a 200
// {"total":N}.
func GetTotal(t testing.TB, in *Instance) *big.Int {
	t.Helper()
	return TotalAs(t, in, "")
}

// Want200 asserts a 200 {"total":N} JSON response, replayed or not as
// wanted, and records it for k.
func Want200(t testing.TB, res *Results, k Key, inst int, what string, resp *Response, replayed bool) {
	t.Helper()
	if resp.Status != http.StatusOK || resp.Replayed != replayed {
		t.Errorf("%s: got %d (replayed=%v) %s, want 200 with replayed=%v", what, resp.Status, resp.Replayed, resp.Body, replayed)
		return
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: got Content-Type %q, want application/json", what, ct)
	}
	if _, err := ParseTotal(resp.Body); err != nil {
		t.Errorf("%s: %v", what, err)
	}
	res.Record(k, inst, resp)
}

// CheckProblem asserts resp is status want with an RFC 9457 problem body.
func CheckProblem(t testing.TB, name string, resp *Response, want int) {
	t.Helper()
	if resp.Status != want {
		t.Errorf("%s: got status %d, want %d; body %s", name, resp.Status, want, resp.Body)
		return
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Errorf("%s: got Content-Type %q, want application/problem+json", name, ct)
	}
	var p struct {
		Type, Title, Detail string
		Status              int
	}
	dec := json.NewDecoder(bytes.NewReader(resp.Body))
	if err := dec.Decode(&p); err != nil || p.Type == "" || p.Title == "" || p.Detail == "" || p.Status != want {
		t.Errorf("%s: got problem %s (%v), want type, title, detail and status %d", name, resp.Body, err, want)
	}
}

// RetryAfter parses the Retry-After header (delay-seconds) that 409 and
// 503 must carry.
func RetryAfter(resp *Response) (time.Duration, error) {
	v := resp.Header.Get("Retry-After")
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("Retry-After %q: want delay-seconds", v)
	}
	return time.Duration(n) * time.Second, nil
}
