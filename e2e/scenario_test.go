package e2e_test

import (
	"fmt"
	"math/big"
	"testing"
	"time"
)

// scenario is the set-up most load scenarios share: a Cluster, its total
// before the test, the Results of every keyed addition, and a Driver that
// records into them. A test changes d (Dup, Workers) before sending.
type scenario struct {
	t       *testing.T
	c       *Cluster
	initial *big.Int
	res     *Results
	d       *Driver
	start   time.Time // when the first keys were sent
}

// startScenario starts a Cluster with opts and reads its total.
func startScenario(t *testing.T, opts Options) *scenario {
	t.Helper()
	c := StartCluster(t, opts)
	s := &scenario{t: t, c: c, initial: getTotal(t, c.Instances[0]), res: newResults()}
	s.d = newDriver(t, c, s.res)
	return s
}

// send starts sending keys through the Driver and returns a channel
// closed when every one is resolved.
func (s *scenario) send(keys []Key) <-chan struct{} {
	if s.start.IsZero() {
		s.start = time.Now()
	}
	return s.d.Go(keys)
}

// run sends keys and waits until every one is resolved, failing t after
// timeout.
func (s *scenario) run(keys []Key, timeout time.Duration) {
	s.t.Helper()
	waitDone(s.t, s.send(keys), timeout)
}

// progress waits until the Driver resolved the fraction f of its keys,
// failing t if that takes more than a minute.
func (s *scenario) progress(f float64) {
	s.t.Helper()
	if !waitFor(s.t.Context(), time.Minute, func() bool { return s.d.Progress() >= f }) {
		s.t.Fatalf("no progress to %v within a minute (at %v)", f, s.d.Progress())
	}
}

// summary describes the load so far: keys, copies, time since the first
// send, and the Driver's counters.
func (s *scenario) summary() string {
	return fmt.Sprintf("%d keys × %d copies in %v: %s", s.d.Total, s.d.Dup, time.Since(s.start).Round(time.Millisecond), &s.d.Stats)
}

// check asserts every invariant (checkAll) over the scenario's keys.
func (s *scenario) check() {
	s.t.Helper()
	checkAll(s.t, s.c, s.res, s.initial)
}
