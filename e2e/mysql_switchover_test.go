package e2e_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/idemsum/idemsum/e2e/harness"
	"github.com/idemsum/idemsum/internal/mariadbtopo"
)

// switchoverBound is how long after the address moved the instances may
// still answer 503: each pooled connection to the old primary is used
// once more, refused and discarded.
const switchoverBound = 10 * time.Second

// TestFailoverSwitchoverToReadOnly is a planned switchover under keyed
// load: the primary is made read-only (demoted, still running), the
// replica catches up and is promoted, and the address is switched for new
// connections only — the instances' pooled connections stay on the old,
// read-only primary, as behind a load balancer that keeps established
// sessions. Meanwhile /readyz says "mysql":"readonly" and additions and
// reads are 503 with Retry-After, never a stale total; afterwards each
// instance, without a restart, discards every connection a read-only
// answer came back on and dials the new primary, and every key resolves,
// exactly once, on it. The instances run with lock_wait_timeout=2 in
// their DSN, as docs/scaling.md recommends.
func TestFailoverSwitchoverToReadOnly(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	tp := harness.StartTopology(t, false, 0, "lock_wait_timeout=2")
	c := tp.C
	initial := harness.GetTotal(t, c.Instances[0])
	res := harness.NewResults()
	d := harness.NewDriver(t, c, res)
	d.Workers = failoverWorkers
	done := d.Go(harness.NewKeys("switchover", failoverKeys))
	if !harness.WaitFor(ctx, time.Minute, func() bool { return d.Progress() >= failoverAt }) {
		t.Fatalf("no progress to %v", failoverAt)
	}
	demoted := time.Now()
	if err := tp.Primary.Exec(ctx, "SET GLOBAL read_only = ON"); err != nil {
		t.Fatal(err)
	}
	// SET GLOBAL read_only waits for the backup lock, behind a statement
	// that waits for the total row's lock, held by a transaction whose
	// next statement waits for the backup lock: a cycle InnoDB does not
	// see. The instances' lock_wait_timeout=2 (in their DSN) breaks it
	// within 2 s; without it, only the Ledger's 10 s bound on a round
	// trip did.
	setRO := time.Since(demoted)
	checkReadOnly(t, c)
	if err := mariadbtopo.CaughtUp(ctx, tp.Primary, tp.Replica); err != nil {
		t.Fatal(err)
	}
	if _, err := mariadbtopo.Promote(ctx, tp.Replica); err != nil {
		t.Fatal(err)
	}
	tp.VIP.SetTarget(tp.Replica.Addr)
	moved := time.Now()
	c.DB = harness.RootPool(t, tp.Replica)
	t.Logf("primary read-only at %.0f%% (SET GLOBAL read_only took %v), address moved %v later",
		100*d.Progress(), setRO.Round(time.Millisecond), moved.Sub(demoted).Round(time.Millisecond))
	harness.WaitDone(t, done, 90*time.Second)
	t.Logf("%d keys × %d copies: %s; %d connections of sumd still open on the old primary", d.Total, d.Dup, &d.Stats, sessions(t, tp.Primary))
	if d.Stats.Unavailable.Load() == 0 {
		t.Errorf("no 503 while the primary was read-only; the scenario tested nothing")
	}
	checkNo503After(t, res, moved.Add(switchoverBound))
	harness.CheckHealed(t, c, res)
	harness.CheckAll(t, c, res, initial)
}

// checkReadOnly checks every instance while their MySQL is read-only:
// /readyz is 503 with "mysql":"readonly" (within a few probes), GET /sum
// and a new keyed addition are 503 problems with Retry-After.
func checkReadOnly(t testing.TB, c *harness.Cluster) {
	t.Helper()
	for _, in := range c.Instances {
		var last *harness.Response
		ok := harness.WaitFor(t.Context(), 10*time.Second, func() bool {
			last = harness.Call(t, in, "GET", "/readyz", nil, "", "")
			var rd struct{ MySQL string }
			json.Unmarshal(last.Body, &rd)
			return last.Status == http.StatusServiceUnavailable && rd.MySQL == "readonly" && last.Header.Get("Retry-After") != ""
		})
		if !ok {
			t.Errorf("GET /readyz on %s while MySQL is read-only: got %d %s, want 503 with \"mysql\":\"readonly\" and Retry-After", in.Name, last.Status, last.Body)
		}
		harness.CheckProblem(t, "GET /sum on "+in.Name+" while MySQL is read-only", harness.Call(t, in, "GET", "/sum", nil, "", ""), http.StatusServiceUnavailable)
		k := harness.NewKeys("readonly", 1)[0] // never retried: CheckAll proves it added nothing
		resp, err := harness.SendOne(t.Context(), harness.Client, in, k)
		if err != nil {
			t.Fatalf("POST /sum on %s while MySQL is read-only: %v", in.Name, err)
		}
		harness.CheckProblem(t, "POST /sum on "+in.Name+" while MySQL is read-only", resp, http.StatusServiceUnavailable)
		if _, err := harness.RetryAfter(resp); err != nil {
			t.Errorf("POST /sum on %s while MySQL is read-only: %v", in.Name, err)
		}
	}
}

// checkNo503After fails t if any attempt that started after at was
// answered 503.
func checkNo503After(t testing.TB, res *harness.Results, at time.Time) {
	t.Helper()
	n := 0
	var last time.Time
	res.Each(func(ks *harness.KeyState) {
		for _, s := range ks.Sends {
			for _, a := range s.Attempts {
				if a.Status == http.StatusServiceUnavailable {
					last = maxTime(last, a.End)
					if a.Start.After(at) {
						n++
					}
				}
			}
		}
	})
	if n > 0 {
		t.Errorf("%d attempts answered 503 more than %v after the address moved, want none: pooled connections stuck on the old primary", n, switchoverBound)
	}
	if !last.IsZero() {
		t.Logf("the last 503 came %v before the bound", at.Sub(last).Round(time.Millisecond))
	}
}

// sessions returns the number of connections of sumd's account on s.
func sessions(t testing.TB, s *mariadbtopo.Server) int {
	t.Helper()
	var n int
	q := "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = ?"
	if err := s.Root().QueryRowContext(context.Background(), q, harness.AppUser).Scan(&n); err != nil {
		t.Fatalf("%s: count sessions: %v", s.Name, err)
	}
	return n
}
