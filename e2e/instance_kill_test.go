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

func TestConcurrentDuplicatesThreeInstances(t *testing.T) {
	t.Parallel()
	s := startScenario(t, Options{Instances: 3})
	s.d.Dup = 3
	s.run(newKeys("clean", loadKeys), 90*time.Second)
	t.Logf("on 3 instances: %s", s.summary())
	// Group commit is on by default: the exactness above must have held
	// with transactions carrying several additions, not one each.
	batches, added := metricSum(t, s.c, "idemsum_batch_size_count"), metricSum(t, s.c, "idemsum_batch_size_sum")
	t.Logf("group commit: %.0f additions in %.0f transactions (%.2f per transaction)", added, batches, added/batches)
	if batches == 0 || added-batches < 10 {
		t.Errorf("%.0f additions in %.0f group-commit transactions: want several transactions of more than one addition", added, batches)
	}
	s.check()
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

func TestRedisFlushedMidRun(t *testing.T) {
	t.Parallel()
	// This database is the test's alone: FLUSHDB wipes all of it.
	s := startScenario(t, Options{Instances: 3, RedisDB: redisDBFlush})
	c := s.c
	done := s.send(newKeys("flush", loadKeys))
	flushes, wiped := 0, int64(0)
	for loop := true; loop; {
		select {
		case <-done:
			loop = false
		case <-time.After(50 * time.Millisecond):
			n, err := c.Redis.DBSize(t.Context()).Result()
			if err != nil {
				t.Fatalf("DBSIZE: %v", err)
			}
			if err := c.Redis.FlushDB(t.Context()).Err(); err != nil {
				t.Fatalf("FLUSHDB: %v", err)
			}
			flushes, wiped = flushes+1, wiped+n
		}
	}
	t.Logf("%d FLUSHDB wiping %d Redis keys: %s", flushes, wiped, s.summary())
	if flushes < 3 || wiped == 0 {
		t.Errorf("got %d flushes wiping %d keys, want at least 3 flushes mid-run that wiped claims or records", flushes, wiped)
	}
	checkHealed(t, c, s.res)
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

func TestRedisUnreachable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, redisURL, ready string
	}{
		{"dead port", "", "down"},
		{"off", "off", "disabled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url := tt.redisURL
			if url == "" {
				url = "redis://" + closedPort(t) + "/0"
			}
			s := startScenario(t, Options{Instances: 3, RedisURL: url})
			checkReady(t, s.c, tt.ready)
			// Without claims, duplicates meet in MySQL only: three copies of
			// each key from many workers make them meet often.
			s.d.Dup, s.d.Workers = 3, 32
			done := s.send(newKeys("noredis", loadKeys))
			waitFor(t.Context(), time.Minute, func() bool { return s.d.Progress() >= 0.5 })
			checkReady(t, s.c, tt.ready) // mid-run, under load
			waitDone(t, done, 90*time.Second)
			t.Logf("redis %s: %s", url, s.summary())
			s.check()
		})
	}
}

func TestStalledInstance(t *testing.T) {
	t.Parallel()
	const frozen = 0
	s := startScenario(t, Options{Instances: 3})
	c, d, res := s.c, s.d, s.res
	done := s.send(newKeys("stall", loadKeys))

	stop := freezeMidFlight(t, c, d, res, frozen, 0.1)
	stuck := hit(res, frozen, stop, false) // in flight, or answered just after

	// More than 3 lease TTLs into the freeze, fresh additions sent straight
	// to the others must each succeed at the first try.
	waitFor(t.Context(), time.Minute, func() bool { return time.Since(stop) > 3*leaseTTL+200*time.Millisecond })
	probeFrozen(t, c, res, frozen)
	// Stay frozen until every request cut off by the freeze was answered
	// by another instance, or resolveBound.
	waitFor(t.Context(), resolveBound-time.Since(stop), func() bool {
		res.mu.Lock()
		defer res.mu.Unlock()
		for _, s := range stuck {
			if !s.OK {
				return false
			}
		}
		return true
	})
	cont := time.Now()
	c.Instances[frozen].Cont()
	t.Logf("SIGCONT sumd%d after %v", frozen, cont.Sub(stop).Round(time.Millisecond))

	added := 0 // new additions made and answered by the others during the freeze
	res.Each(func(ks *KeyState) {
		for _, s := range ks.Sends {
			if s.OK && !s.Replayed && s.Inst != frozen && s.Start.After(stop) && s.End.Before(cont) {
				added++
			}
		}
	})
	// The requests in flight at the SIGSTOP that did not slip out before it.
	stuck = hit(res, frozen, stop, true)
	t.Logf("during the freeze: %d new additions by the other instances; %d requests cut off by it", added, len(stuck))
	if added == 0 {
		t.Errorf("no new addition completed on the other instances while sumd%d was frozen for %v", frozen, cont.Sub(stop))
	}
	if len(stuck) == 0 {
		t.Errorf("the freeze cut off no request in flight; the scenario tested nothing")
	}
	checkResolvedWithin(t, res, stuck, frozen, stop, time.Time{}, min(resolveBound, cont.Sub(stop)))

	waitDone(t, done, 90*time.Second)
	t.Log(s.summary())
	checkFirstSentDuringFreeze(t, res, frozen, stop, cont)
	checkHealed(t, c, res)
	s.check()
}

// probeClient waits longer than the Driver's, so that only a real stall
// (a lock held for the ledger's 10s timeout) fails a probe, not a slow CI.
var probeClient = &http.Client{Timeout: 5 * time.Second}

// probeFrozen sends fresh keyed additions to every instance but frozen,
// one at a time; each must get a fresh 200 at the first attempt, within
// probeClient's timeout, although frozen is stalled.
func probeFrozen(t testing.TB, c *Cluster, res *Results, frozen int) {
	t.Helper()
	var slowest time.Duration
	for i, k := range newKeys("probe", 20) {
		inst := (frozen + 1 + i%(len(c.Instances)-1)) % len(c.Instances)
		t0 := time.Now()
		resp, err := sendOne(t.Context(), probeClient, c.Instances[inst], k)
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
// to the frozen instance during the freeze resolved within resolveBound of
// that attempt.
func checkFirstSentDuringFreeze(t testing.TB, res *Results, frozen int, stop, cont time.Time) {
	t.Helper()
	n := 0
	res.Each(func(ks *KeyState) {
		for _, s := range ks.Sends {
			for _, a := range s.Attempts {
				if a.Inst != frozen || a.Start.Before(stop) || !a.Start.Before(cont) {
					continue
				}
				n++
				if !s.OK || s.End.Sub(a.Start) > resolveBound {
					t.Errorf("key %s: sent to frozen sumd%d at +%v, resolved=%v after %v, want within %v",
						ks.Name, frozen, a.Start.Sub(stop), s.OK, s.End.Sub(a.Start), resolveBound)
				}
				break
			}
		}
	})
	t.Logf("%d requests sent to sumd%d during its freeze, each resolved within %v", n, frozen, resolveBound)
}
