package e2e_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/idemsum/idemsum/e2e/harness"
	"github.com/idemsum/idemsum/internal/testenv"
)

// The challenges of a 401 (RFC 6750 §3).
const (
	challengeMissing = `Bearer realm="idemsum"`
	challengeBad     = `Bearer realm="idemsum", error="invalid_token"`
)

// addRequests are the four requests that add k, one per route and method
// that can: JSON POST /sum with Idempotency-Key, and the legacy URL by GET
// and by POST.
func addRequests(k harness.Key) map[string]harness.Request {
	q := "?ikey=" + url.QueryEscape(k.Name) + "&number=" + fmt.Sprint(k.Number)
	return map[string]harness.Request{
		"POST /sum": {Method: http.MethodPost, Target: "/sum", CType: "application/json", Body: fmt.Sprintf(`{"number":%d}`, k.Number),
			Header: http.Header{"Idempotency-Key": {k.Name}}},
		"legacy GET":  {Method: http.MethodGet, Target: "/test-sum-action" + q},
		"legacy POST": {Method: http.MethodPost, Target: "/test-sum-action" + q},
	}
}

// checkDenied checks a 401 problem with the challenge want.
func checkDenied(t testing.TB, what string, resp *harness.Response, challenge string) {
	t.Helper()
	harness.CheckProblem(t, what, resp, http.StatusUnauthorized)
	if got := resp.Header.Values("WWW-Authenticate"); len(got) != 1 || got[0] != challenge {
		t.Errorf("%s: WWW-Authenticate %q, want %q", what, got, challenge)
	}
	checkProblemType(t, what, resp, "urn:idemsum:problem:unauthenticated")
}

// checkProblemType checks the type of a problem+json body.
func checkProblemType(t testing.TB, what string, resp *harness.Response, want string) {
	t.Helper()
	var p struct{ Type string }
	if err := json.NewDecoder(bytes.NewReader(resp.Body)).Decode(&p); err != nil || p.Type != want {
		t.Errorf("%s: problem type %q (%v), want %q; body %s", what, p.Type, err, want, resp.Body)
	}
}

// TestTokensRequired runs two instances with an -auth-tokens file and
// sends every request that adds or reads (POST /sum, GET /sum, the legacy
// URL by GET and POST) without a token, with an unknown one, with another
// scheme, with a malformed number (the token is checked first), and, after
// a client was removed from the file and SIGHUP, with the removed
// client's token: each must be 401 with the RFC 6750 challenge and leave
// no trace (the total, sum_ledger and Redis unchanged), so that the same
// key sent then with a valid token is a fresh addition. /healthz, /readyz
// and /metrics answer without a token, and the denials are counted.
func TestTokensRequired(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "tokens")
	tokA, lineA := harness.NewToken(t, "alice")
	tokB, lineB := harness.NewToken(t, "bob")
	harness.WriteTokens(t, path, lineA, lineB)
	c := harness.StartCluster(t, harness.Options{Instances: 2, Args: []string{"-auth-tokens", path}})
	in := c.Instances[0]
	initial := harness.TotalAs(t, in, tokA)
	u := testenv.Unique()
	keys := map[string]harness.Key{}
	for name := range addRequests(harness.Key{}) {
		keys[name] = harness.Key{Name: "e2e-tokens-" + u + "-" + strings.ReplaceAll(name, " ", "-"), Number: 1 + rand.Uint64N(1e12)}
	}
	wrong := "isk_" + strings.Repeat("A", 43)
	denials := []struct {
		name, auth, challenge string
	}{
		{"no token", "", challengeMissing},
		{"unknown token", "Bearer " + wrong, challengeBad},
		{"lower-case scheme, unknown token", "bearer " + wrong, challengeBad},
		{"Basic credentials", "Basic YWxpY2U6c2VjcmV0", challengeBad},
		{"empty Bearer", "Bearer ", challengeBad},
		{"the hash instead of the token", "Bearer " + strings.Fields(lineA)[1], challengeBad},
	}
	sent := map[string]int{}
	deny := func(what string, r harness.Request, auth, challenge string) {
		t.Helper()
		if auth != "" {
			r = r.With("Authorization", auth)
		}
		checkDenied(t, what, r.Send(t, in), challenge)
		sent[challenge]++
	}
	for _, d := range denials {
		for name := range addRequests(harness.Key{}) {
			deny(d.name+": "+name, addRequests(keys[name])[name], d.auth, d.challenge)
		}
		deny(d.name+": GET /sum", harness.Request{Method: http.MethodGet, Target: "/sum"}, d.auth, d.challenge)
		deny(d.name+": POST /sum number -1", harness.Request{Method: http.MethodPost, Target: "/sum", CType: "application/json", Body: `{"number":-1}`}, d.auth, d.challenge)
		deny(d.name+": POST /sum bad key", addRequests(keys["POST /sum"])["POST /sum"].With("Idempotency-Key", "two keys"), d.auth, d.challenge)
	}
	checkOpen(t, c)
	checkNoTrace(t, c, keys, initial, "after the requests without a valid token")
	m := harness.Metrics(t, in)
	for reason, challenge := range map[string]string{"missing_token": challengeMissing, "bad_token": challengeBad} {
		series := `idemsum_auth_denied_total{reason="` + reason + `"}`
		if got := m[series]; got != float64(sent[challenge]) {
			t.Errorf("%s: %s = %v, want %d: one per request refused", in.Name, series, got, sent[challenge])
		}
	}
	if got := m["idemsum_auth_clients"]; got != 2 {
		t.Errorf("%s: idemsum_auth_clients = %v, want 2", in.Name, got)
	}

	// bob works, until he is taken out of the file.
	kb := harness.Key{Name: "e2e-tokens-" + u + "-bob", Number: 1 + rand.Uint64N(1e12)}
	bobReq := addRequests(kb)["POST /sum"].With("Authorization", "Bearer "+tokB)
	if resp := bobReq.Send(t, in); resp.Status != http.StatusOK || resp.Replayed {
		t.Fatalf("bob's first key: status %d replayed=%v, want 200 fresh; body %s", resp.Status, resp.Replayed, resp.Body)
	}
	initial = harness.MySQLTotal(t, c)
	harness.WriteTokens(t, path, lineA)
	for _, in := range c.Instances {
		in.Signal(syscall.SIGHUP)
	}
	for _, in := range c.Instances {
		harness.WaitMetric(t, in, `idemsum_auth_reloads_total{result="ok"}`, 1, 10*time.Second)
		if got := harness.Metrics(t, in)["idemsum_auth_clients"]; got != 1 {
			t.Errorf("%s after the reload: idemsum_auth_clients = %v, want 1", in.Name, got)
		}
	}
	for _, in := range c.Instances {
		for name := range addRequests(harness.Key{}) {
			r := addRequests(keys[name])[name].With("Authorization", "Bearer "+tokB)
			checkDenied(t, "bob removed: "+name+" on "+in.Name, r.Send(t, in), challengeBad)
		}
		resp := bobReq.Send(t, in) // bob's key that was added: no replay for him either
		checkDenied(t, "bob removed: his added key on "+in.Name, resp, challengeBad)
	}
	checkNoTrace(t, c, keys, initial, "after bob's requests once removed")

	// The same keys with a valid token: fresh additions, on the other
	// instance.
	want := new(big.Int).Set(initial)
	for name := range addRequests(harness.Key{}) {
		k := keys[name]
		r := addRequests(k)[name].With("Authorization", "Bearer "+tokA)
		resp := r.Send(t, c.Instances[1])
		want.Add(want, new(big.Int).SetUint64(k.Number))
		if resp.Status != http.StatusOK || resp.Replayed || string(resp.Body) != fmt.Sprintf("{\"total\":%v}\n", want) {
			t.Errorf("alice, %s after the refusals: status %d replayed=%v body %q, want 200 fresh {\"total\":%v}", name, resp.Status, resp.Replayed, resp.Body, want)
		}
	}
	if got := harness.MySQLTotal(t, c); got.Cmp(want) != 0 {
		t.Errorf("sum_total = %v, want %v", got, want)
	}
	t.Logf("%d requests refused 401 (%d without a token, %d with a bad one) on %s, %d with a removed client's token after SIGHUP; then %d keys added fresh",
		sent[challengeMissing]+sent[challengeBad], sent[challengeMissing], sent[challengeBad], in.Name, 4*len(c.Instances), len(keys))
}

// checkOpen checks that /healthz, /readyz and /metrics answer 200 without
// a token.
func checkOpen(t testing.TB, c *harness.Cluster) {
	t.Helper()
	for _, in := range c.Instances {
		for _, target := range []string{"/healthz", "/readyz", "/metrics"} {
			if resp := (harness.Request{Method: http.MethodGet, Target: target}).Send(t, in); resp.Status != http.StatusOK {
				t.Errorf("GET %s on %s without a token: status %d, want 200; body %.200s", target, in.Name, resp.Status, resp.Body)
			}
		}
	}
}

// checkNoTrace checks that keys left no trace: the total is want, and
// neither sum_ledger nor Redis (under c's prefix) holds any of them.
func checkNoTrace(t testing.TB, c *harness.Cluster, keys map[string]harness.Key, want *big.Int, what string) {
	t.Helper()
	if got := harness.MySQLTotal(t, c); got.Cmp(want) != 0 {
		t.Errorf("%s: sum_total = %v, want %v unchanged", what, got, want)
	}
	ledger := harness.ScopedLedger(t, c, "")
	for _, k := range keys {
		for id := range ledger {
			if id[1] == k.Name {
				t.Errorf("%s: sum_ledger has key %s of client %q", what, k.Name, id[0])
			}
		}
		if names := harness.RedisNamesWith(t, c, k.Name); len(names) > 0 {
			t.Errorf("%s: Redis holds %q, want nothing of key %s", what, names, k.Name)
		}
	}
}

// reloads is how many times TestTokensReloadUnderLoad reloads a good
// tokens file.
const reloads = 6

// reloadFiller is how many clients besides alice and the new ones the
// tokens file of TestTokensReloadUnderLoad holds: a file of thousands of
// lines takes milliseconds to read, so that a reload that leaves no
// tokens (or a partial set) while it reads is met by alice's requests.
const reloadFiller = 3000

// otherClients returns n lines of clients whose tokens nobody knows.
func otherClients(n int) []string {
	lines := make([]string, n)
	for i := range lines {
		var b [32]byte
		for j := range b {
			b[j] = byte(rand.Uint32())
		}
		lines[i] = fmt.Sprintf("other-%d %x", i, b)
	}
	return lines
}

// TestTokensReloadUnderLoad has client alice add from eight goroutines
// on two instances while the tokens file (of thousands of clients) is
// rewritten (a new file renamed
// over it) and both instances reloaded by SIGHUP six times, each time
// with one more client, whose token must work on every instance as soon
// as the reload is counted; then a malformed file and SIGHUP: the reload
// fails and counts an error, and the previous tokens stay. No request of
// alice may fail at any point: a reload is atomic.
func TestTokensReloadUnderLoad(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "tokens")
	tokA, lineA := harness.NewToken(t, "alice")
	lines := append([]string{lineA}, otherClients(reloadFiller)...)
	harness.WriteTokens(t, path, lines...)
	c := harness.StartCluster(t, harness.Options{Instances: 2, Args: []string{"-auth-tokens", path}})
	initial := harness.TotalAs(t, c.Instances[0], tokA)
	load := startAliceLoad(t, c, tokA, 8)

	var tokens []string
	res := map[string]*harness.Results{"alice": load.res}
	u := testenv.Unique()
	probes := 0
	probe := func(i int, name string) {
		t.Helper()
		probes++
		k := harness.Key{Name: fmt.Sprintf("e2e-reload-%s-%s-%d", u, name, probes), Number: 1 + rand.Uint64N(1e12)}
		for j, in := range c.Instances {
			resp := addRequests(k)["POST /sum"].With("Authorization", "Bearer "+tokens[i]).Send(t, in)
			if resp.Status != http.StatusOK || resp.Replayed != (j > 0) {
				t.Errorf("%s's token on %s after its reload: status %d replayed=%v, want 200; body %s", name, in.Name, resp.Status, resp.Replayed, resp.Body)
				continue
			}
			if res[name] == nil {
				res[name] = harness.NewResults()
			}
			res[name].Record(k, j, resp)
		}
	}
	var reloadTimes []time.Duration
	var lastGood time.Time // when the last good reload was asked for
	for i := range reloads {
		name := fmt.Sprintf("c%d", i+1)
		tok, line := harness.NewToken(t, name)
		tokens, lines = append(tokens, tok), append(lines, line)
		sentAt := load.sent.Load()
		harness.WriteTokens(t, path, lines...)
		began := time.Now()
		lastGood = began.Truncate(time.Second) // the metric's resolution is finer; a second of slack
		for _, in := range c.Instances {
			in.Signal(syscall.SIGHUP)
		}
		for _, in := range c.Instances {
			harness.WaitMetric(t, in, `idemsum_auth_reloads_total{result="ok"}`, float64(i+1), 10*time.Second)
		}
		reloadTimes = append(reloadTimes, time.Since(began))
		probe(i, name)
		probe(0, "c1")
		// the load must have gone on across this reload
		if !harness.WaitFor(t.Context(), 10*time.Second, func() bool { return load.sent.Load() > sentAt+200 }) {
			t.Fatalf("alice's load stalled at reload %d: %d requests", i+1, load.sent.Load())
		}
	}
	harness.WriteTokens(t, path, append(lines, "this-is-not-a-token-line")...)
	for _, in := range c.Instances {
		in.Signal(syscall.SIGHUP)
	}
	for _, in := range c.Instances {
		harness.WaitMetric(t, in, `idemsum_auth_reloads_total{result="error"}`, 1, 10*time.Second)
		m := harness.Metrics(t, in)
		if got := m[`idemsum_auth_reloads_total{result="ok"}`]; got != reloads {
			t.Errorf("%s: idemsum_auth_reloads_total{result=\"ok\"} = %v, want %d", in.Name, got, reloads)
		}
		if got := m["idemsum_auth_clients"]; got != float64(len(lines)) {
			t.Errorf("%s after the bad file: idemsum_auth_clients = %v, want %d (the previous tokens)", in.Name, got, len(lines))
		}
		if got, ok := m["idemsum_auth_reload_ok"]; !ok || got != 0 {
			t.Errorf("%s after the bad file: idemsum_auth_reload_ok = %v, want 0 (the failed reload must show)", in.Name, got)
		}
		if got := m["idemsum_auth_loaded_timestamp_seconds"]; got < float64(lastGood.Unix()) {
			t.Errorf("%s: idemsum_auth_loaded_timestamp_seconds = %v, want the last good load (after %v)", in.Name, got, lastGood)
		}
	}
	probe(reloads-1, fmt.Sprintf("c%d", reloads))
	probe(1, "c2")
	sentAt := load.sent.Load()
	if !harness.WaitFor(t.Context(), 10*time.Second, func() bool { return load.sent.Load() > sentAt+200 }) {
		t.Fatalf("alice's load stalled after the bad file")
	}
	load.stop()

	t.Logf("alice: %d requests from 8 goroutines across %d reloads and a failed one, %d not 200; reload seen in /metrics after %v",
		load.sent.Load(), reloads, load.N.Load(), reloadTimes)
	if n := load.N.Load(); n > 0 {
		t.Errorf("%d of alice's %d requests failed, want none; the first: %s", n, load.sent.Load(), load.First())
	}
	harness.CheckScoped(t, c, res, initial, "")
}

// aliceLoad is alice adding keys of her own, one request each, from
// several goroutines, alternating between the instances.
type aliceLoad struct {
	harness.Failures
	res  *harness.Results
	sent atomic.Int64
	done chan struct{}
	wg   sync.WaitGroup
}

func startAliceLoad(t *testing.T, c *harness.Cluster, token string, workers int) *aliceLoad {
	l := &aliceLoad{res: harness.NewResults(), done: make(chan struct{})}
	client := &http.Client{Timeout: 10 * time.Second, Transport: harness.Bearer{Token: token, Next: http.DefaultTransport}}
	u := testenv.Unique()
	for w := range workers {
		l.wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-l.done:
					return
				default:
				}
				k := harness.Key{Name: fmt.Sprintf("e2e-alice-%s-%d-%d", u, w, i), Number: 1 + rand.Uint64N(1e12)}
				inst := (w + i) % len(c.Instances)
				resp, err := harness.SendOne(t.Context(), client, c.Instances[inst], k)
				l.sent.Add(1)
				switch {
				case err != nil:
					l.Fail(fmt.Sprintf("key %s on %s: %v", k.Name, c.Instances[inst].Name, err))
				case resp.Status != http.StatusOK:
					l.Fail(fmt.Sprintf("key %s on %s: status %d %s", k.Name, c.Instances[inst].Name, resp.Status, resp.Body))
				default:
					l.res.Record(k, inst, resp)
				}
			}
		})
	}
	t.Cleanup(l.stop)
	return l
}

// stop ends the load and waits for its requests; it may be called twice.
func (l *aliceLoad) stop() {
	select {
	case <-l.done:
	default:
		close(l.done)
	}
	l.wg.Wait()
}
