package e2e_test

import (
	"context"
	"math/big"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/idemsum/idemsum/e2e/harness"
	"github.com/idemsum/idemsum/idempotency"
)

// clientsKeys is how many keys both clients of TestClientsWithTheSameKeys
// send.
const clientsKeys = 600

// TestClientsWithTheSameKeys runs three instances with an -auth-tokens
// file of two clients, alice and bob, who send the same key names at the
// same time, each key twice at once to two instances (so that copies meet
// in flight: 409s, retried) and then once more twice (replays), bob with
// alice's number + 1000. Keys are scoped per client
// (docs/design.md#key-scope): each
// client's key is added once, on its own, and neither client's record may
// answer, replay or refuse (422) the other's key.
func TestClientsWithTheSameKeys(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "tokens")
	tokA, lineA := harness.NewToken(t, "alice")
	tokB, lineB := harness.NewToken(t, "bob")
	harness.WriteTokens(t, path, lineA, lineB)
	c := harness.StartCluster(t, harness.Options{Instances: 3, Args: []string{"-auth-tokens", path}})
	initial := harness.TotalAs(t, c.Instances[0], tokA)

	keysA := harness.NewKeys("clients", clientsKeys)
	keysB := make([]harness.Key, len(keysA))
	for i, k := range keysA {
		keysB[i] = harness.Key{Name: k.Name, Number: k.Number + 1000}
	}
	res := map[string]*harness.Results{"alice": harness.NewResults(), "bob": harness.NewResults()}
	dA, dB := harness.NewDriver(t, c, res["alice"]), harness.NewDriver(t, c, res["bob"])
	harness.AsClient(dA, tokA)
	harness.AsClient(dB, tokB)
	dA.GiveUp, dB.GiveUp = 15*time.Second, 15*time.Second
	start := time.Now()
	for round := range 2 {
		doneA, doneB := dA.Go(keysA), dB.Go(keysB)
		for name, done := range map[string]<-chan struct{}{"alice": doneA, "bob": doneB} {
			select {
			case <-done:
			case <-time.After(45*time.Second - time.Since(start)):
				t.Fatalf("round %d: %s's keys not done within 45s: alice %s (statuses %v); bob %s (statuses %v)", round+1, name,
					&dA.Stats, harness.StatusCounts(res["alice"]), &dB.Stats, harness.StatusCounts(res["bob"]))
			}
		}
		t.Logf("after round %d (%v): alice %s; bob %s", round+1, time.Since(start).Round(time.Millisecond), &dA.Stats, &dB.Stats)
	}

	for name, r := range res {
		harness.CheckNo5xx(t, r, name)
		sts := harness.StatusCounts(r)
		for _, st := range []int{http.StatusUnauthorized, http.StatusUnprocessableEntity} {
			if sts[st] > 0 {
				t.Errorf("client %s: %d answers were %d, want none: its keys are its own, each with one number", name, sts[st], st)
			}
		}
	}
	want := harness.CheckScoped(t, c, res, initial, "")
	for _, in := range c.Instances {
		if got := harness.TotalAs(t, in, tokB); got.Cmp(want) != 0 {
			t.Errorf("GET /sum on %s = %v, want %v", in.Name, got, want)
		}
	}
	checkScopedRedis(t, c, keysA[0].Name)
	checkClientMetrics(t, c, map[string]*harness.Driver{"alice": dA, "bob": dB})
	t.Logf("%d keys × 2 clients × 2 rounds × %d copies on %d instances in %v: total %v = initial %v + %v",
		len(keysA), dA.Dup, len(c.Instances), time.Since(start).Round(time.Millisecond), want, initial, new(big.Int).Sub(want, initial))
}

// checkScopedRedis checks that the cached records of key are under the
// clients' scoped names (idempotency.ScopedKey), and none under key's
// own, the anonymous client's.
func checkScopedRedis(t testing.TB, c *harness.Cluster, key string) {
	t.Helper()
	names := []string{c.RecordName(idempotency.ScopedKey("alice", key)), c.RecordName(idempotency.ScopedKey("bob", key))}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	var n int64
	if !harness.WaitFor(ctx, 5*time.Second, func() bool { n = c.Redis.Exists(ctx, names...).Val(); return n == 2 }) {
		t.Errorf("Redis holds %d of the records %q, want both", n, names)
	}
	if n := c.Redis.Exists(ctx, c.RecordName(key), c.ClaimName(key)).Val(); n != 0 {
		t.Errorf("Redis holds %d names of the anonymous key %s, want none: both clients authenticated", n, key)
	}
}

// checkClientMetrics checks idemsum_client_requests_total: over the
// instances, each client's requests are at least the Driver's 200s.
func checkClientMetrics(t testing.TB, c *harness.Cluster, drivers map[string]*harness.Driver) {
	t.Helper()
	got := map[string]float64{}
	for _, in := range c.Instances {
		m := harness.Metrics(t, in)
		for name := range drivers {
			got[name] += harness.MetricWhere(m, `idemsum_client_requests_total{client="`+name+`"`)
		}
	}
	for name, d := range drivers {
		if ok := float64(d.Stats.OK.Load()); got[name] < ok {
			t.Errorf("idemsum_client_requests_total{client=%q} = %v over the instances, want at least its %v answers 200", name, got[name], ok)
		}
	}
	t.Logf("idemsum_client_requests_total by client: %v", got)
}
