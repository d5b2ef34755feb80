package e2e_test

import (
	"testing"
	"time"

	"github.com/idemsum/idemsum/e2e/harness"
)

// TestRollingRestart deploys under load: each instance in turn gets
// SIGTERM, must finish what it holds and exit 0, and starts again.
func TestRollingRestart(t *testing.T) {
	t.Parallel()
	s := harness.StartScenario(t, harness.Options{Instances: 3})
	d := s.D
	done := s.Go(harness.NewKeys("rolling", 2*harness.LoadKeys))
	for i, in := range s.C.Instances {
		p := 0.15 + 0.25*float64(i)
		if !harness.WaitFor(t.Context(), time.Minute, func() bool { return d.Progress() >= p && d.Inflight[i].Load() >= 2 }) {
			t.Fatalf("%s: no moment with progress ≥ %v and requests in flight", in.Name, p)
		}
		at := time.Now()
		state := in.Terminate(10 * time.Second)
		t.Logf("SIGTERM %s at %.0f%%: exited after %v: %v", in.Name, 100*d.Progress(), time.Since(at).Round(time.Millisecond), state)
		if !state.Success() {
			t.Errorf("%s after SIGTERM: exited with %v, want status 0", in.Name, state)
		}
		checkDrained(t, s.Res, i, at)
		in.Restart()
	}
	harness.WaitDone(t, done, 90*time.Second)
	t.Logf("3 SIGTERM and restarts: %s", s.Summary())
	harness.CheckHealed(t, s.C, s.Res)
	s.Check()
}

// checkDrained fails t if a request that instance inst had been given
// well before its SIGTERM at at was cut off rather than answered.
func checkDrained(t testing.TB, res *harness.Results, inst int, at time.Time) {
	t.Helper()
	const margin = 100 * time.Millisecond // the request had surely been read
	res.Each(func(ks *harness.KeyState) {
		for _, s := range ks.Sends {
			for _, a := range s.Attempts {
				if a.Inst == inst && a.Start.Before(at.Add(-margin)) && !a.End.IsZero() && a.End.After(at) && a.Status == 0 {
					t.Errorf("key %s: a request sumd%d had %v before its SIGTERM was cut off: %s", ks.Name, inst, at.Sub(a.Start), a.Err)
				}
			}
		}
	})
}
