package harness

import (
	"fmt"
	"math/big"
	"testing"
	"time"
)

// LoadKeys is the number of distinct keys of each load scenario.
const LoadKeys = 1000

// Scenario is the set-up most load scenarios share: a Cluster, its total
// before the test, the Results of every keyed addition, and a Driver that
// records into them. A test changes D (Dup, Workers) before sending.
type Scenario struct {
	C       *Cluster
	Initial *big.Int // the total before the test
	Res     *Results
	D       *Driver

	t     testing.TB
	start time.Time // when the first keys were sent
}

// StartScenario starts a Cluster with opts and reads its total.
func StartScenario(t testing.TB, opts Options) *Scenario {
	t.Helper()
	c := StartCluster(t, opts)
	s := &Scenario{t: t, C: c, Initial: GetTotal(t, c.Instances[0]), Res: NewResults()}
	s.D = NewDriver(t, c, s.Res)
	return s
}

// Go starts sending keys through the Driver and returns a channel closed
// when every one is resolved.
func (s *Scenario) Go(keys []Key) <-chan struct{} {
	if s.start.IsZero() {
		s.start = time.Now()
	}
	return s.D.Go(keys)
}

// Run sends keys and waits until every one is resolved, failing the test
// after timeout.
func (s *Scenario) Run(keys []Key, timeout time.Duration) {
	s.t.Helper()
	WaitDone(s.t, s.Go(keys), timeout)
}

// Progress waits until the Driver resolved the fraction f of its keys,
// failing the test if that takes more than a minute.
func (s *Scenario) Progress(f float64) {
	s.t.Helper()
	Await(s.t, time.Minute, fmt.Sprintf("progress to %.0f%% of the keys (at %.0f%%)", 100*f, 100*s.D.Progress()),
		func() bool { return s.D.Progress() >= f })
}

// Summary describes the load so far: keys, copies, time since the first
// send, and the Driver's counters.
func (s *Scenario) Summary() string {
	return fmt.Sprintf("%d keys × %d copies in %v: %s", s.D.Total, s.D.Dup, time.Since(s.start).Round(time.Millisecond), &s.D.Stats)
}

// Check asserts every invariant (CheckAll) over the scenario's keys.
func (s *Scenario) Check() {
	s.t.Helper()
	CheckAll(s.t, s.C, s.Res, s.Initial)
}
