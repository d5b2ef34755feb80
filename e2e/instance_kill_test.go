package e2e_test

import (
	"encoding/json"
	"net"
	"net/http"
	"testing"
	"time"
)

// loadKeys is the number of distinct keys of each load scenario.
const loadKeys = 1000

// waitDone waits for the Driver's channel, failing t after d.
func waitDone(t testing.TB, done <-chan struct{}, d time.Duration) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("load not done within %v", d)
	}
}

// resolveBound is how long a key whose request was cut off by a killed or
// frozen instance may take to resolve elsewhere: a few lease TTLs plus a
// client timeout.
const resolveBound = 10 * time.Second

// hit returns the Sends that had an attempt on instance inst in flight at
// moment at (started before, not ended before), ended without a response
// when cut is true.
func hit(res *Results, inst int, at time.Time, cut bool) []*Send {
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

// checkResolvedWithin fails t unless every Send in sends got a 200 at
// most bound after at, from an instance other than inst or from inst's
// next run (started at back; zero if none).
func checkResolvedWithin(t testing.TB, res *Results, sends []*Send, inst int, at, back time.Time, bound time.Duration) {
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
func (k killStep) kill(t testing.TB, c *Cluster, d *Driver, res *Results) time.Time {
	t.Helper()
	in := c.Instances[k.inst]
	if k.stopFirst {
		freezeMidFlight(t, c, d, res, k.inst, k.at)
		at := time.Now()
		in.Kill()
		t.Logf("SIGSTOP+SIGKILL %s at %.0f%% of the keys", in.Name, 100*d.Progress())
		return at
	}
	if !waitFor(t.Context(), time.Minute, func() bool { return d.Progress() >= k.at && d.Inflight[k.inst].Load() >= 2 }) {
		t.Fatalf("%s: no moment with progress ≥ %v and requests in flight", in.Name, k.at)
	}
	at := time.Now()
	in.Kill()
	t.Logf("SIGKILL %s at %.0f%% of the keys", in.Name, 100*d.Progress())
	return at
}

// freezeMidFlight SIGSTOPs instance i once progress p is reached and
// attempts are in flight on it, and returns the moment of the SIGSTOP. It
// holds the freeze for a moment, so that answers already sent drain, and
// keeps it only if an attempt made before it is still unanswered: the
// instance is then frozen in the middle of a request. Otherwise it
// resumes the instance and tries again.
func freezeMidFlight(t testing.TB, c *Cluster, d *Driver, res *Results, i int, p float64) time.Time {
	t.Helper()
	in := c.Instances[i]
	for range 20 {
		if !waitFor(t.Context(), time.Minute, func() bool { return d.Progress() >= p && d.Inflight[i].Load() >= 2 }) {
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

func TestKill9MidRun(t *testing.T) {
	t.Parallel()
	s := startScenario(t, Options{Instances: 3})
	c, d, res := s.c, s.d, s.res
	done := s.send(newKeys("kill", 2*loadKeys))
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
			waitFor(t.Context(), time.Minute, func() bool { return d.Progress() >= k.restartAt })
			restarts[k.inst] = time.Now() // answers from sumd<inst> after this come from the new run
			c.Instances[k.inst].Restart()
			t.Logf("sumd%d restarted at %.0f%%", k.inst, 100*d.Progress())
		}
	}
	waitDone(t, done, 90*time.Second)
	t.Logf("%d kills: %s", len(steps), s.summary())

	for i, k := range steps {
		cut := hit(res, k.inst, kills[i], true)
		t.Logf("kill %d of sumd%d cut off %d requests", i+1, k.inst, len(cut))
		if k.stopFirst && len(cut) == 0 {
			t.Errorf("kill %d of sumd%d cut off no request in flight", i+1, k.inst)
		}
		checkResolvedWithin(t, res, cut, k.inst, kills[i], restarts[k.inst], resolveBound)
	}
	for inst, at := range restarts {
		served := 0
		res.Each(func(ks *KeyState) {
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
	checkHealed(t, c, res)
	s.check()
}

// closedPort returns a local address where nothing listens: a port that
// was just listened on and closed.
func closedPort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// checkReady asserts GET /readyz on every instance: 200, MySQL up, and
// Redis in state redis.
func checkReady(t testing.TB, c *Cluster, redis string) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	for _, in := range c.Live() {
		req, _ := http.NewRequest(http.MethodGet, in.URL()+"/readyz", nil)
		resp, err := do(client, req)
		if err != nil {
			t.Fatalf("GET /readyz on %s: %v", in.Name, err)
		}
		var got struct{ Status, MySQL, Redis string }
		if err := json.Unmarshal(resp.Body, &got); err != nil || resp.Status != http.StatusOK || got.MySQL != "up" || got.Redis != redis {
			t.Errorf("GET /readyz on %s: got %d %s, want 200 with \"mysql\":\"up\", \"redis\":%q", in.Name, resp.Status, resp.Body, redis)
		}
	}
}
