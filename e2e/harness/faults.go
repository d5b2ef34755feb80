package harness

import (
	"net"
	"testing"
	"time"
)

// ResolveBound is how long a key whose request was cut off by a killed or
// frozen instance may take to resolve elsewhere: a few lease TTLs plus a
// client timeout.
const ResolveBound = 10 * time.Second

// InFlightAt returns the Sends that had an attempt on instance inst in flight at
// moment at (started before, not ended before), ended without a response
// when cut is true.
func InFlightAt(res *Results, inst int, at time.Time, cut bool) []*Send {
	var sends []*Send
	res.Each(func(ks *KeyState) {
		for _, s := range ks.Sends {
			for _, a := range s.Attempts {
				inFlight := a.Start.Before(at) && (a.End.IsZero() || !a.End.Before(at))
				if a.Inst == inst && inFlight && (!cut || a.Status == 0) {
					sends = append(sends, s)
					break
				}
			}
		}
	})
	return sends
}

// pending returns the number of attempts on instance inst that started
// before at and have not ended.
func pending(res *Results, inst int, at time.Time) int {
	n := 0
	res.Each(func(ks *KeyState) {
		for _, s := range ks.Sends {
			for _, a := range s.Attempts {
				if a.Inst == inst && a.Start.Before(at) && a.End.IsZero() {
					n++
				}
			}
		}
	})
	return n
}

// CheckResolvedWithin fails t unless every Send in sends got a 200 at
// most bound after at, from an instance other than inst or from inst's
// next run (started at back; zero if none).
func CheckResolvedWithin(t testing.TB, res *Results, sends []*Send, inst int, at, back time.Time, bound time.Duration) {
	t.Helper()
	res.mu.Lock()
	defer res.mu.Unlock()
	for _, s := range sends {
		switch {
		case !s.OK:
			t.Errorf("a request cut off on sumd%d never resolved: %s", inst, s.Fail)
		case s.Inst == inst && (back.IsZero() || s.End.Before(back)):
			t.Errorf("a request cut off on sumd%d was answered by the same run of sumd%d", inst, inst)
		case s.End.Sub(at) > bound:
			t.Errorf("a request cut off on sumd%d resolved %v after, want within %v", inst, s.End.Sub(at), bound)
		}
	}
}

// FreezeMidFlight SIGSTOPs instance i once progress p is reached and
// attempts are in flight on it, and returns the moment of the SIGSTOP. It
// holds the freeze for a moment, so that answers already sent drain, and
// keeps it only if an attempt made before it is still unanswered: the
// instance is then frozen in the middle of a request. Otherwise it
// resumes the instance and tries again.
func FreezeMidFlight(t testing.TB, c *Cluster, d *Driver, res *Results, i int, p float64) time.Time {
	t.Helper()
	in := c.Instances[i]
	for range 20 {
		if !WaitFor(t.Context(), time.Minute, func() bool { return d.Progress() >= p && d.Inflight[i].Load() >= 2 }) {
			break
		}
		at := time.Now()
		in.Stop()
		time.Sleep(200 * time.Millisecond) // the freeze itself
		if stuck := pending(res, i, at); stuck > 0 {
			t.Logf("SIGSTOP %s at %.0f%% of the keys: %d requests stuck in it", in.Name, 100*d.Progress(), stuck)
			return at
		}
		in.Cont()
	}
	t.Fatalf("%s: no moment with progress ≥ %v and requests stuck in it", in.Name, p)
	return time.Time{}
}

// ClosedPort returns a local address where nothing listens: a port that
// was just listened on and closed.
func ClosedPort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// CheckNoStuck fails t unless every key resolved, and every Send still
// open at healed resolved within bound after it.
func CheckNoStuck(t testing.TB, res *Results, healed time.Time, bound time.Duration) {
	t.Helper()
	var slowest time.Duration
	res.Each(func(ks *KeyState) {
		for _, s := range ks.Sends {
			switch {
			case !s.OK:
				t.Errorf("key %s stuck: %s", ks.Name, s.Fail)
			case s.Start.Before(healed) && s.End.Sub(healed) > bound:
				t.Errorf("key %s resolved %v after healing, want within %v", ks.Name, s.End.Sub(healed), bound)
			}
			slowest = max(slowest, s.End.Sub(s.Start))
		}
	})
	t.Logf("the slowest key took %v to resolve", slowest.Round(time.Millisecond))
}

// healedKeys is the number of fresh keys CheckHealed sends.
const healedKeys = 60

// CheckHealed sends a fresh round of keys once every fault is healed,
// each twice at once to two live instances, and fails t unless every
// attempt was answered 200 or 409 (the two copies meeting): no 5xx and
// no transport error after healing. The keys join res, for CheckAll. It
// returns the number of 5xx answers.
func CheckHealed(t testing.TB, c *Cluster, res *Results) int {
	t.Helper()
	live := *c
	live.Instances = c.Live()
	round := NewResults()
	d := NewDriver(t, &live, round)
	// Every fault is healed and only live instances get the keys, so no
	// attempt meets a frozen one: an attempt that takes longer than the
	// load's ClientTimeout is a busy machine, not a fault, and must not
	// count as a transport error. Client's 10 s still catch a stall.
	d.Client.Timeout = Client.Timeout
	d.GiveUp = 30 * time.Second
	WaitDone(t, d.Go(NewKeys("healed", healedKeys)), time.Minute)
	bad, fivexx := 0, 0
	round.Each(func(ks *KeyState) {
		for _, s := range ks.Sends {
			for _, a := range s.Attempts {
				if a.Status >= 500 {
					fivexx++
				}
				if a.Status == 0 || a.Status >= 500 {
					if bad++; bad <= 5 {
						t.Errorf("after healing: key %s on %s: status %d %s, want 200 or 409", ks.Name, live.Instances[a.Inst].Name, a.Status, a.Err)
					}
				}
			}
		}
	})
	res.Merge(round)
	t.Logf("after healing: %d fresh keys × %d copies on %d instances: %s", healedKeys, d.Dup, len(live.Instances), &d.Stats)
	return fivexx
}
