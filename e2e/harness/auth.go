package harness

import (
	"context"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The helpers of the tests of API tokens, client scopes and cross-origin
// writes (docs/design.md#key-scope): the auth_*_test.go files.

// NewToken runs "sumd token name" and returns the token (its first line)
// and the client's line for the -auth-tokens file (its second).
func NewToken(t testing.TB, name string) (token, line string) {
	t.Helper()
	out, err := exec.Command(Sumd(), "token", name).Output()
	if err != nil {
		t.Fatalf("sumd token %s: %v", name, err)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[1], name+" ") {
		t.Fatalf("sumd token %s: got %q, want the token and the line %q", name, out, name+" SHA256")
	}
	return lines[0], lines[1]
}

// WriteTokens replaces the file at path with lines, atomically: it writes
// a file next to it and renames it over path, as an operator would, so
// that a reload never sees half a file.
func WriteTokens(t testing.TB, path string, lines ...string) {
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

// Bearer is an http.RoundTripper that sends every request through Next
// with Authorization: Bearer Token.
type Bearer struct {
	Token string
	Next  http.RoundTripper
}

// RoundTrip sends a copy of req with the Authorization header.
func (b Bearer) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+b.Token)
	return b.Next.RoundTrip(req)
}

// AsClient makes d send every request with token.
func AsClient(d *Driver, token string) {
	next := d.Client.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	d.Client.Transport = Bearer{Token: token, Next: next}
}

// Request is one request of these tests: its method, target, headers,
// and body.
type Request struct {
	Method, Target string
	Header         http.Header
	CType, Body    string
}

// Send makes r to in with Call.
func (r Request) Send(t testing.TB, in *Instance) *Response {
	t.Helper()
	return Call(t, in, r.Method, r.Target, r.Header, r.CType, r.Body)
}

// With returns r with the header name: value added.
func (r Request) With(name, value string) Request {
	h := r.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Add(name, value)
	r.Header = h
	return r
}

// TotalAs reads GET /sum from in with token ("" for none).
func TotalAs(t testing.TB, in *Instance, token string) *big.Int {
	t.Helper()
	r := Request{Method: http.MethodGet, Target: "/sum"}
	if token != "" {
		r = r.With("Authorization", "Bearer "+token)
	}
	resp := r.Send(t, in)
	if resp.Status != http.StatusOK {
		t.Fatalf("GET /sum on %s: got status %d, want 200; body %s", in.Name, resp.Status, resp.Body)
	}
	n, err := ParseTotal(resp.Body)
	if err != nil {
		t.Fatalf("GET /sum on %s: %v", in.Name, err)
	}
	return n
}

// MySQLTotal reads sum_total from c's database.
func MySQLTotal(t testing.TB, c *Cluster) *big.Int {
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

// RedisNamesWith returns the names under c's prefix of key, of any
// client: those that end with ":key" or " key".
func RedisNamesWith(t testing.TB, c *Cluster, key string) []string {
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

// LedgerRow is one row of sum_ledger.
type LedgerRow struct {
	Client, Key   string
	Number, Total string
}

// ScopedLedger returns every row of c's sum_ledger by (client, key),
// leaving out the keys that start with skip (when not "").
func ScopedLedger(t testing.TB, c *Cluster, skip string) map[[2]string]LedgerRow {
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
	ledger := map[[2]string]LedgerRow{}
	for rows.Next() {
		var client, key []byte
		var r LedgerRow
		if err := rows.Scan(&client, &key, &r.Number, &r.Total); err != nil {
			t.Fatalf("scan ledger: %v", err)
		}
		r.Client, r.Key = string(client), string(key)
		ledger[[2]string{r.Client, r.Key}] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read ledger: %v", err)
	}
	return ledger
}

// CheckScoped checks the additions of several clients (res by client
// name, "" anonymous) made on c from the total initial, once the load is
// over: each key of each client answered 200 with byte-identical bodies,
// at most one not replayed (checkKey); the answers in one serial order
// (each total − its number is the previous total); sum_ledger holds
// exactly one row per client and key, with the client's number and the
// total of its answers; and sum_total is initial plus every client's
// numbers, each key once per client. Keys that start with skip are
// another test's filler and left out of the ledger's comparison.
func CheckScoped(t testing.TB, c *Cluster, res map[string]*Results, initial *big.Int, skip string) *big.Int {
	t.Helper()
	ledger := ScopedLedger(t, c, skip)
	want := new(big.Int).Set(initial)
	var entries []SerialEntry
	rows, bad := 0, 0
	for client, r := range res {
		r.Each(func(ks *KeyState) {
			want.Add(want, new(big.Int).SetUint64(ks.Number))
			total, _, _ := checkKey(t, ks)
			if total == nil {
				return
			}
			entries = append(entries, SerialEntry{Name: client + " " + ks.Name, Number: ks.Number, Total: total})
			row, ok := ledger[[2]string{client, ks.Name}]
			if !ok || row.Number != fmt.Sprint(ks.Number) || row.Total != total.String() {
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
	CheckSerial(t, "", entries, initial)
	if got := MySQLTotal(t, c); got.Cmp(want) != 0 {
		t.Errorf("sum_total = %v, want %v: initial %v + every client's numbers, each key once per client (off by %v)",
			got, want, initial, new(big.Int).Sub(got, want))
	}
	CheckRedisTTLs(t, c)
	return want
}

// Failures counts the failures of a load and keeps the first one's
// description; safe for concurrent use.
type Failures struct {
	N     atomic.Int64 // failures so far
	mu    sync.Mutex
	first string
}

// Fail counts one failure, described by why.
func (f *Failures) Fail(why string) {
	f.N.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.first == "" {
		f.first = why
	}
}

// First returns the description of the first failure, or "".
func (f *Failures) First() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.first
}
