package e2e_test

import (
	"context"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Helpers of the tests of API tokens, client scopes and cross-origin
// writes (issue #13): clients_test.go, tokens_test.go, origin_test.go.

// newToken runs "sumd token name" and returns the token (its first line)
// and the client's line for the -auth-tokens file (its second).
func newToken(t testing.TB, name string) (token, line string) {
	t.Helper()
	out, err := exec.Command(sumdBin, "token", name).Output()
	if err != nil {
		t.Fatalf("sumd token %s: %v", name, err)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[1], name+" ") {
		t.Fatalf("sumd token %s: got %q, want the token and the line %q", name, out, name+" SHA256")
	}
	return lines[0], lines[1]
}

// writeTokens replaces the file at path with lines, atomically: it writes
// a file next to it and renames it over path, as an operator would, so
// that a reload never sees half a file.
func writeTokens(t testing.TB, path string, lines ...string) {
	t.Helper()
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tokens-*")
	if err != nil {
		t.Fatalf("tokens file: %v", err)
	}
	_, err = io.WriteString(tmp, "# clients of the e2e test\n"+strings.Join(lines, "\n")+"\n")
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		t.Fatalf("write tokens file %s: %v", path, err)
	}
}

// bearer is an http.RoundTripper that sends every request with
// Authorization: Bearer token.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(req)
}

// asClient makes d send every request with token.
func asClient(d *Driver, token string) {
	next := d.client.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	d.client.Transport = bearer{token: token, next: next}
}

// accessClient is the HTTP client of single requests of these tests.
var accessClient = &http.Client{Timeout: 10 * time.Second}

// request is one request of these tests: its method, target, headers,
// and body.
type request struct {
	method, target string
	header         http.Header
	ctype, body    string
}

// send makes r to in and checks the exchange against server/openapi.json.
func (r request) send(t testing.TB, in *Instance) *Response {
	t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(t.Context(), r.method, in.URL()+r.target, body)
	if err != nil {
		t.Fatalf("%s %s: %v", r.method, r.target, err)
	}
	for name, vs := range r.header {
		req.Header[name] = vs
	}
	if r.ctype != "" {
		req.Header.Set("Content-Type", r.ctype)
	}
	reqBody := requestBody(req)
	hr, err := accessClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s on %s: %v", r.method, r.target, in.Name, err)
	}
	defer hr.Body.Close()
	b, err := io.ReadAll(io.LimitReader(hr.Body, 1<<16))
	if err != nil {
		t.Fatalf("%s %s on %s: read: %v", r.method, r.target, in.Name, err)
	}
	resp := &Response{Status: hr.StatusCode, Header: hr.Header, Body: b, Replayed: hr.Header.Get("Idempotent-Replayed") == "true"}
	checkAPI(req, reqBody, resp)
	return resp
}

// with returns r with the header name: value added.
func (r request) with(name, value string) request {
	h := r.header.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Add(name, value)
	r.header = h
	return r
}

// totalAs reads GET /sum from in with token ("" for none).
func totalAs(t testing.TB, in *Instance, token string) *big.Int {
	t.Helper()
	r := request{method: http.MethodGet, target: "/sum"}
	if token != "" {
		r = r.with("Authorization", "Bearer "+token)
	}
	resp := r.send(t, in)
	if resp.Status != http.StatusOK {
		t.Fatalf("GET /sum on %s: got status %d, want 200; body %s", in.Name, resp.Status, resp.Body)
	}
	n, err := parseTotal(resp.Body)
	if err != nil {
		t.Fatalf("GET /sum on %s: %v", in.Name, err)
	}
	return n
}

// mysqlTotal reads sum_total from c's database.
func mysqlTotal(t testing.TB, c *Cluster) *big.Int {
	t.Helper()
	var s string
	if err := c.DB.QueryRowContext(t.Context(), "SELECT total FROM sum_total WHERE id = 1").Scan(&s); err != nil {
		t.Fatalf("read sum_total: %v", err)
	}
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		t.Fatalf("sum_total.total = %q", s)
	}
	return n
}

// metrics returns every sample of in's /metrics by its series,
// such as `idemsum_auth_denied_total{reason="bad_token"}`.
func metrics(t testing.TB, in *Instance) map[string]float64 {
	t.Helper()
	resp := request{method: http.MethodGet, target: "/metrics"}.send(t, in)
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

// metricWhere sums the samples of m whose series starts with prefix, such
// as `idemsum_client_requests_total{client="alice"`.
func metricWhere(m map[string]float64, prefix string) float64 {
	sum := 0.0
	for series, v := range m {
		if strings.HasPrefix(series, prefix) {
			sum += v
		}
	}
	return sum
}

// waitMetric polls in's /metrics until series has the value want, failing
// t after d.
func waitMetric(t testing.TB, in *Instance, series string, want float64, d time.Duration) {
	t.Helper()
	var got float64
	if !waitFor(t.Context(), d, func() bool { got = metrics(t, in)[series]; return got == want }) {
		t.Fatalf("%s: %s = %v after %v, want %v", in.Name, series, got, d, want)
	}
}

// redisNamesWith returns the names under c's prefix of key, of any
// client: those that end with ":key" or " key".
func redisNamesWith(t testing.TB, c *Cluster, key string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var names []string
	iter := c.Redis.Scan(ctx, 0, c.Prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		if v := iter.Val(); strings.HasSuffix(v, ":"+key) || strings.HasSuffix(v, " "+key) {
			names = append(names, iter.Val())
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("SCAN %s*: %v", c.Prefix, err)
	}
	return names
}

// ledgerRow is one row of sum_ledger.
type ledgerRow struct {
	client, key   string
	number, total string
}

// scopedLedger returns every row of c's sum_ledger by (client, key),
// leaving out the keys that start with skip (when not "").
func scopedLedger(t testing.TB, c *Cluster, skip string) map[[2]string]ledgerRow {
	t.Helper()
	q, args := "SELECT client, idem_key, number, total FROM sum_ledger", []any{}
	if skip != "" {
		q, args = q+" WHERE idem_key NOT LIKE CONCAT(?, '%')", append(args, skip)
	}
	rows, err := c.DB.QueryContext(t.Context(), q, args...)
	if err != nil {
		t.Fatalf("read ledger: %v", err)
	}
	defer rows.Close()
	ledger := map[[2]string]ledgerRow{}
	for rows.Next() {
		var client, key []byte
		var r ledgerRow
		if err := rows.Scan(&client, &key, &r.number, &r.total); err != nil {
			t.Fatalf("scan ledger: %v", err)
		}
		r.client, r.key = string(client), string(key)
		ledger[[2]string{r.client, r.key}] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read ledger: %v", err)
	}
	return ledger
}

// checkScoped checks the additions of several clients (res by client
// name, "" anonymous) made on c from the total initial, once the load is
// over: each key of each client answered 200 with byte-identical bodies,
// at most one not replayed (checkKey); the answers in one serial order
// (each total − its number is the previous total); sum_ledger holds
// exactly one row per client and key, with the client's number and the
// total of its answers; and sum_total is initial plus every client's
// numbers, each key once per client. Keys that start with skip are
// another test's filler and left out of the ledger's comparison.
func checkScoped(t testing.TB, c *Cluster, res map[string]*Results, initial *big.Int, skip string) *big.Int {
	t.Helper()
	ledger := scopedLedger(t, c, skip)
	want := new(big.Int).Set(initial)
	var entries []serialEntry
	rows, bad := 0, 0
	for client, r := range res {
		r.Each(func(ks *KeyState) {
			want.Add(want, new(big.Int).SetUint64(ks.Number))
			total, _, _ := checkKey(t, ks)
			if total == nil {
				return
			}
			entries = append(entries, serialEntry{client + " " + ks.Name, ks.Number, total})
			row, ok := ledger[[2]string{client, ks.Name}]
			if !ok || row.number != fmt.Sprint(ks.Number) || row.total != total.String() {
				if bad++; bad <= 5 {
					t.Errorf("client %q key %s: ledger row %+v (found %v), want number %d total %v (its answers)", client, ks.Name, row, ok, ks.Number, total)
				}
			}
		})
		rows += r.Len()
	}
	if len(ledger) != rows {
		t.Errorf("sum_ledger holds %d rows, want %d: one per client and key", len(ledger), rows)
		for k := range ledger {
			if _, ok := res[k[0]]; !ok {
				t.Errorf("sum_ledger has a row of client %q, which sent nothing", k[0])
				break
			}
		}
	}
	checkSerial(t, "", entries, initial)
	if got := mysqlTotal(t, c); got.Cmp(want) != 0 {
		t.Errorf("sum_total = %v, want %v: initial %v + every client's numbers, each key once per client (off by %v)",
			got, want, initial, new(big.Int).Sub(got, want))
	}
	checkRedisTTLs(t, c)
	return want
}

// failures counts the failures of a load and keeps the first one's
// description; safe for concurrent use.
type failures struct {
	failed atomic.Int64
	mu     sync.Mutex
	first  string
}

func (f *failures) fail(why string) {
	f.failed.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.first == "" {
		f.first = why
	}
}

func (f *failures) firstFail() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.first
}
