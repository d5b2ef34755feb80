package e2e_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/idemsum/idemsum/e2e/harness"
)

// killStep is one kill of TestKill9MidRun.
type killStep struct {
	inst      int
	at        float64 // progress (fraction of keys resolved) of the kill
	stopFirst bool    // SIGSTOP first and SIGKILL only while a request is stuck in it
	restartAt float64 // progress of the restart; 0: left dead
}

// kill carries out k once the progress is reached and attempts are in
// flight on the instance, and returns the moment of the kill. With
// stopFirst the kill is sure to land in the middle of a request: see
// freezeMidFlight.
func (k killStep) kill(t testing.TB, c *harness.Cluster, d *harness.Driver, res *harness.Results) time.Time {
	t.Helper()
	in := c.Instances[k.inst]
	if k.stopFirst {
		harness.FreezeMidFlight(t, c, d, res, k.inst, k.at)
		at := time.Now()
		in.Kill()
		t.Logf("SIGSTOP+SIGKILL %s at %.0f%% of the keys", in.Name, 100*d.Progress())
		return at
	}
	if !harness.WaitFor(t.Context(), time.Minute, func() bool { return d.Progress() >= k.at && d.Inflight[k.inst].Load() >= 2 }) {
		t.Fatalf("%s: no moment with progress ≥ %v and requests in flight", in.Name, k.at)
	}
	at := time.Now()
	in.Kill()
	t.Logf("SIGKILL %s at %.0f%% of the keys", in.Name, 100*d.Progress())
	return at
}

func TestKill9MidRun(t *testing.T) {
	t.Parallel()
	s := harness.StartScenario(t, harness.Options{Instances: 3})
	c, d, res := s.C, s.D, s.Res
	done := s.Go(harness.NewKeys("kill", 2*harness.LoadKeys))
	steps := []killStep{
		{inst: 1, at: 0.15, restartAt: 0.3},
		{inst: 0, at: 0.4, stopFirst: true, restartAt: 0.55},
		{inst: 2, at: 0.7, stopFirst: true},
	}
	kills := make([]time.Time, len(steps))
	restarts := map[int]time.Time{}
	for i, k := range steps {
		kills[i] = k.kill(t, c, d, res)
		if k.restartAt > 0 {
			harness.Await(t, time.Minute, fmt.Sprintf("progress to %.0f%% of the keys to restart sumd%d", 100*k.restartAt, k.inst),
				func() bool { return d.Progress() >= k.restartAt })
			restarts[k.inst] = time.Now() // answers from sumd<inst> after this come from the new run
			c.Instances[k.inst].Restart()
			t.Logf("sumd%d restarted at %.0f%%", k.inst, 100*d.Progress())
		}
	}
	harness.WaitDone(t, done, 90*time.Second)
	t.Logf("%d kills: %s", len(steps), s.Summary())

	for i, k := range steps {
		cut := harness.InFlightAt(res, k.inst, kills[i], true)
		t.Logf("kill %d of sumd%d cut off %d requests", i+1, k.inst, len(cut))
		if k.stopFirst && len(cut) == 0 {
			t.Errorf("kill %d of sumd%d cut off no request in flight", i+1, k.inst)
		}
		harness.CheckResolvedWithin(t, res, cut, k.inst, kills[i], restarts[k.inst], harness.ResolveBound)
	}
	for inst, at := range restarts {
		served := 0
		res.Each(func(ks *harness.KeyState) {
			for _, s := range ks.Sends {
				if s.OK && s.Inst == inst && s.End.After(at) {
					served++
				}
			}
		})
		if served == 0 {
			t.Errorf("the restarted sumd%d answered no request", inst)
		}
	}
	harness.CheckHealed(t, c, res)
	s.Check()
}
