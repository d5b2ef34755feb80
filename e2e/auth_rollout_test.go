package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idemsum/idemsum/client"
	"github.com/idemsum/idemsum/e2e/harness"
	"github.com/idemsum/idemsum/internal/testenv"
)

// rolloutCall is the outcome of one Add through the client during a
// rollout, as the client reported it.
type rolloutCall struct {
	client, key string // the scope the key must have ("billing" or "")
	number      uint64
	outcome     string   // "added", "not-added" or "unknown"
	total       *big.Int // with "added"
	err         error
}

// rolloutLoad adds fresh keys through one client until stopped.
type rolloutLoad struct {
	scope string
	cl    *client.Client
	stop  chan struct{}
	done  sync.WaitGroup
	calls atomic.Int64
	mu    sync.Mutex
	out   []rolloutCall
}

// startRollout starts workers goroutines that each add keys named
// prefix-scope-N through cl until stop is called.
func startRollout(cl *client.Client, scope, prefix string, workers int) *rolloutLoad {
	l := &rolloutLoad{scope: scope, cl: cl, stop: make(chan struct{})}
	var n atomic.Int64
	for range workers {
		l.done.Go(func() {
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				l.add(fmt.Sprintf("%s-%s-%d", prefix, cmpScope(scope), n.Add(1)))
			}
		})
	}
	return l
}

func cmpScope(scope string) string {
	if scope == "" {
		return "anon"
	}
	return scope
}

// add adds one key and records how the client reported it.
func (l *rolloutLoad) add(key string) {
	c := rolloutCall{client: l.scope, key: key, number: 1 + rand.Uint64N(1e9)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	res, err := l.cl.Add(ctx, c.number, client.WithKey(key))
	cancel()
	switch {
	case err == nil:
		c.outcome, c.total = "added", res.Total
	case errors.Is(err, client.ErrOutcomeUnknown):
		c.outcome, c.err = "unknown", err
	default:
		c.outcome, c.err = "not-added", err
	}
	l.mu.Lock()
	l.out = append(l.out, c)
	l.mu.Unlock()
	l.calls.Add(1)
}

// finish stops the load and returns its calls.
func (l *rolloutLoad) finish() []rolloutCall {
	close(l.stop)
	l.done.Wait()
	return l.out
}

// awaitCalls fails t unless l completes n more calls within d.
func (l *rolloutLoad) awaitCalls(t testing.TB, n int64, d time.Duration, when string) {
	t.Helper()
	from := l.calls.Load()
	if !harness.WaitFor(t.Context(), d, func() bool { return l.calls.Load() >= from+n }) {
		t.Fatalf("%s: the %q client completed %d calls in %v, want %d", when, l.scope, l.calls.Load()-from, d, n)
	}
}

// TestTokenRolloutKeepsKeyScopes turns API tokens on across three
// instances one at a time (each step a restart: a SIGKILL mid-request),
// then off again one at a time, with another instance killed and
// restarted after each step, while two clients add fresh keys with
// retries across the instances: "billing" with its token, and an
// anonymous one. Whatever instance a retry lands on, a key must keep one
// scope: no key is ever added twice, none under the other client's scope,
// every call the client reported added is in the ledger once with its
// answer's total, and none it reported not added is there at all. Before
// instances without tokens refused bearer tokens, billing's retries on
// them added its keys a second time, as the anonymous client.
func TestTokenRolloutKeepsKeyScopes(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "tokens")
	token, line := harness.NewToken(t, "billing")
	harness.WriteTokens(t, path, line)
	c := harness.StartCluster(t, harness.Options{Instances: 3})
	initial := harness.MySQLTotal(t, c)
	prefix := "e2e-rollout-" + testenv.Unique()
	anon := startRollout(harness.ClientOf(t, c), "", prefix, 4)
	var billing *rolloutLoad
	var calls []rolloutCall
	step := func(i int, args []string, what string) {
		t.Helper()
		c.Instances[i].RestartWith(args...)
		c.Instances[(i+1+rand.IntN(2))%3].Restart() // a kill beside the change
		for _, l := range []*rolloutLoad{anon, billing} {
			if l != nil {
				l.awaitCalls(t, 20, 60*time.Second, what)
			}
		}
	}
	for i := range 3 {
		step(i, []string{"-auth-tokens", path}, fmt.Sprintf("tokens on at sumd%d", i))
		if i == 0 { // from now on an instance checks billing's token
			billing = startRollout(harness.ClientOf(t, c, client.WithToken(token)), "billing", prefix, 4)
		}
	}
	for i := range 3 {
		if i == 2 { // the last instance that checks tokens goes next
			calls = billing.finish()
			billing = nil
		}
		step(i, []string{"-auth-tokens="}, fmt.Sprintf("tokens off at sumd%d", i))
	}
	checkRollout(t, c, prefix, initial, append(calls, anon.finish()...))
}

// checkRollout checks the calls of a rollout against sum_ledger's rows of
// keys starting with prefix, and the serial order of every such row from
// initial up to sum_total (the test's database holds no other addition).
func checkRollout(t *testing.T, c *harness.Cluster, prefix string, initial *big.Int, calls []rolloutCall) {
	t.Helper()
	rows := map[string][]harness.LedgerRow{}
	var entries []harness.SerialEntry
	for _, r := range harness.ScopedLedger(t, c, "") {
		if !strings.HasPrefix(r.Key, prefix) {
			continue
		}
		rows[r.Key] = append(rows[r.Key], r)
		n, _ := new(big.Int).SetString(r.Number, 10)
		total, _ := new(big.Int).SetString(r.Total, 10)
		entries = append(entries, harness.SerialEntry{Name: fmt.Sprintf("client %q key %s", r.Client, r.Key), Number: n.Uint64(), Total: total})
	}
	count := map[string]int{}
	for _, call := range calls {
		count[call.outcome]++
		count[call.client+" "+call.outcome]++
		got := rows[call.key]
		scopes := make([]string, len(got))
		for i, r := range got {
			scopes[i] = fmt.Sprintf("%q", r.Client)
		}
		switch {
		case len(got) > 1:
			t.Errorf("key %s added %d times, under %v", call.key, len(got), scopes)
		case len(got) == 1 && got[0].Client != call.client:
			t.Errorf("key %s of client %q added under client %q (%s)", call.key, call.client, got[0].Client, call.outcome)
		case call.outcome == "added" && (len(got) == 0 || got[0].Total != call.total.String()):
			t.Errorf("key %s: the client reported total %v, ledger rows %+v", call.key, call.total, got)
		case call.outcome == "not-added" && len(got) != 0:
			t.Errorf("key %s: the client reported it not added (%v), ledger holds it", call.key, call.err)
		}
	}
	t.Logf("%d calls: %v", len(calls), count)
	for _, scope := range []string{"", "billing"} {
		if count[scope+" added"] == 0 {
			t.Errorf("no call of client %q was added: the rollout did not exercise it", scope)
		}
	}
	if last := harness.CheckSerial(t, "", entries, initial); harness.MySQLTotal(t, c).Cmp(last) != 0 {
		t.Errorf("sum_total = %v, want %v: the last ledger row's total", harness.MySQLTotal(t, c), last)
	}
}
