package e2e_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/idemsum/idemsum/e2e/harness"
)

func TestStalledInstance(t *testing.T) {
	t.Parallel()
	const frozen = 0
	s := harness.StartScenario(t, harness.Options{Instances: 3})
	c, d, res := s.C, s.D, s.Res
	done := s.Go(harness.NewKeys("stall", harness.LoadKeys))

	stop := harness.FreezeMidFlight(t, c, d, res, frozen, 0.1)
	stuck := harness.InFlightAt(res, frozen, stop, false) // in flight, or answered just after

	// More than 3 lease TTLs into the freeze, fresh additions sent straight
	// to the others must each succeed at the first try.
	harness.Await(t, time.Minute, "3 lease TTLs into the freeze", func() bool { return time.Since(stop) > 3*harness.LeaseTTL+200*time.Millisecond })
	probeFrozen(t, c, res, frozen)
	// Stay frozen until every request cut off by the freeze was answered
	// by another instance, or ResolveBound.
	resolved := harness.WaitFor(t.Context(), harness.ResolveBound-time.Since(stop), func() bool {
		ok := true
		res.Locked(func() {
			for _, s := range stuck {
				ok = ok && s.OK
			}
		})
		return ok
	})
	if !resolved {
		t.Errorf("the requests in flight on the frozen sumd%d were not all answered by the others within %v of the freeze", frozen, harness.ResolveBound)
	}
	cont := time.Now()
	c.Instances[frozen].Cont()
	t.Logf("SIGCONT sumd%d after %v", frozen, cont.Sub(stop).Round(time.Millisecond))

	added := 0 // new additions made and answered by the others during the freeze
	res.Each(func(ks *harness.KeyState) {
		for _, s := range ks.Sends {
			if s.OK && !s.Replayed && s.Inst != frozen && s.Start.After(stop) && s.End.Before(cont) {
				added++
			}
		}
	})
	// The requests in flight at the SIGSTOP that did not slip out before it.
	stuck = harness.InFlightAt(res, frozen, stop, true)
	t.Logf("during the freeze: %d new additions by the other instances; %d requests cut off by it", added, len(stuck))
	if added == 0 {
		t.Errorf("no new addition completed on the other instances while sumd%d was frozen for %v", frozen, cont.Sub(stop))
	}
	if len(stuck) == 0 {
		t.Errorf("the freeze cut off no request in flight; the scenario tested nothing")
	}
	harness.CheckResolvedWithin(t, res, stuck, frozen, stop, time.Time{}, min(harness.ResolveBound, cont.Sub(stop)))

	harness.WaitDone(t, done, 90*time.Second)
	t.Log(s.Summary())
	checkFirstSentDuringFreeze(t, res, frozen, stop, cont)
	harness.CheckHealed(t, c, res)
	s.Check()
}

// probeClient waits longer than the Driver's, so that only a real stall
// (a lock held for the ledger's 10s timeout) fails a probe, not a slow CI.
var probeClient = &http.Client{Timeout: 5 * time.Second}

// probeFrozen sends fresh keyed additions to every instance but frozen,
// one at a time; each must get a fresh 200 at the first attempt, within
// probeClient's timeout, although frozen is stalled.
func probeFrozen(t testing.TB, c *harness.Cluster, res *harness.Results, frozen int) {
	t.Helper()
	var slowest time.Duration
	for i, k := range harness.NewKeys("probe", 20) {
		inst := (frozen + 1 + i%(len(c.Instances)-1)) % len(c.Instances)
		t0 := time.Now()
		resp, err := harness.SendOne(t.Context(), probeClient, c.Instances[inst], k)
		if err != nil || resp.Status != http.StatusOK || resp.Replayed {
			t.Errorf("probe %s on sumd%d while sumd%d is frozen: got %v %+v, want a fresh 200 within %v", k.Name, inst, frozen, err, resp, probeClient.Timeout)
			continue
		}
		slowest = max(slowest, time.Since(t0))
		res.Record(k, inst, resp)
	}
	t.Logf("20 probe additions on the others while sumd%d is frozen: slowest %v", frozen, slowest.Round(time.Millisecond))
}

// checkFirstSentDuringFreeze fails t unless every Send whose attempt went
// to the frozen instance during the freeze resolved within ResolveBound of
// that attempt.
func checkFirstSentDuringFreeze(t testing.TB, res *harness.Results, frozen int, stop, cont time.Time) {
	t.Helper()
	n := 0
	res.Each(func(ks *harness.KeyState) {
		for _, s := range ks.Sends {
			for _, a := range s.Attempts {
				if a.Inst != frozen || a.Start.Before(stop) || !a.Start.Before(cont) {
					continue
				}
				n++
				if !s.OK || s.End.Sub(a.Start) > harness.ResolveBound {
					t.Errorf("key %s: sent to frozen sumd%d at +%v, resolved=%v after %v, want within %v",
						ks.Name, frozen, a.Start.Sub(stop), s.OK, s.End.Sub(a.Start), harness.ResolveBound)
				}
				break
			}
		}
	})
	t.Logf("%d requests sent to sumd%d during its freeze, each resolved within %v", n, frozen, harness.ResolveBound)
}
