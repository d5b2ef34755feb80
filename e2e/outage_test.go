package e2e_test

import (
	"net/http"
	"testing"
	"time"
)

// TestMySQLOutage runs the load through a proxy to MySQL that goes down
// (connections cut and refused), cuts every connection again and again
// (transactions whose outcome the instances cannot know), and stalls.
// Requests fail with 503 and Retry-After meanwhile, a request made while
// MySQL is down adds nothing, and in the end every key is added once.
func TestMySQLOutage(t *testing.T) {
	t.Parallel()
	c := StartCluster(t, Options{Instances: 3, MySQLProxy: true})
	initial := getTotal(t, c.Instances[0])
	res := newResults()
	d := newDriver(t, c, res)
	start := time.Now()
	done := d.Go(newKeys("mysqlout", 2*loadKeys))
	p := c.MySQLProxy
	progress := func(f float64) {
		if !waitFor(t.Context(), time.Minute, func() bool { return d.Progress() >= f }) {
			t.Fatalf("no progress to %v", f)
		}
	}

	progress(0.2)
	p.Refuse(true)
	p.CutAll()
	t.Logf("MySQL down at %.0f%%", 100*d.Progress())
	checkDown(t, c)
	p.Refuse(false)

	progress(0.45)
	for range 10 {
		p.CutAll()
		time.Sleep(50 * time.Millisecond) // the pace of the cuts
	}
	t.Logf("10 cuts of every MySQL connection from %.0f%%", 100*d.Progress())

	progress(0.7)
	p.Blackhole(true)
	stalled := d.Stats.OK.Load()
	time.Sleep(1500 * time.Millisecond) // the stall itself
	p.Heal()
	t.Logf("MySQL stalled for 1.5s at %.0f%%; %d answers meanwhile", 100*d.Progress(), d.Stats.OK.Load()-stalled)

	waitDone(t, done, 90*time.Second)
	t.Logf("%d keys × %d copies in %v: %s", d.Total, d.Dup, time.Since(start).Round(time.Millisecond), &d.Stats)
	if d.Stats.Unavailable.Load() == 0 {
		t.Errorf("no 503 during the MySQL outage; the scenario tested nothing")
	}
	checkHealed(t, c, res)
	checkAll(t, c, res, initial)
}

// checkDown checks every instance while MySQL is down: /readyz is 503,
// GET /sum and a new keyed addition are 503 problems with Retry-After.
// The addition is never retried: checkAll's ledger check then proves it
// added nothing.
func checkDown(t testing.TB, c *Cluster) {
	t.Helper()
	for _, in := range c.Instances {
		resp := call(t, in, "GET", "/readyz", nil, "", "")
		if resp.Status != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("GET /readyz on %s while MySQL is down: got %d %s (Retry-After %q), want 503 with Retry-After",
				in.Name, resp.Status, resp.Body, resp.Header.Get("Retry-After"))
		}
		checkProblem(t, "GET /sum on "+in.Name+" while MySQL is down", call(t, in, "GET", "/sum", nil, "", ""), http.StatusServiceUnavailable)
		k := newKeys("down", 1)[0]
		resp, err := sendOne(t.Context(), hostileClient, in, k)
		if err != nil {
			t.Fatalf("POST /sum on %s while MySQL is down: %v", in.Name, err)
		}
		checkProblem(t, "POST /sum on "+in.Name+" while MySQL is down", resp, http.StatusServiceUnavailable)
		if _, err := retryAfter(resp); err != nil {
			t.Errorf("POST /sum on %s while MySQL is down: %v", in.Name, err)
		}
	}
}

// TestRedisTrouble runs the load through a proxy to Redis that restarts
// empty (connections cut and refused, every key of the test lost), stalls
// longer than the instances' Redis timeouts, and cuts connections. Redis
// is a cache: nothing may fail with 503 and nothing may be added twice.
func TestRedisTrouble(t *testing.T) {
	t.Parallel()
	c := StartCluster(t, Options{Instances: 3, RedisProxy: true})
	initial := getTotal(t, c.Instances[0])
	res := newResults()
	d := newDriver(t, c, res)
	d.Dup = 3
	start := time.Now()
	done := d.Go(newKeys("redistrouble", 2*loadKeys))
	p := c.RedisProxy
	progress := func(f float64) {
		if !waitFor(t.Context(), time.Minute, func() bool { return d.Progress() >= f }) {
			t.Fatalf("no progress to %v", f)
		}
	}

	progress(0.2)
	p.Refuse(true)
	p.CutAll()
	wiped := wipePrefix(t, c)
	checkReady(t, c, "down")
	time.Sleep(500 * time.Millisecond) // Redis stays down this long
	p.Refuse(false)
	t.Logf("Redis restarted empty at %.0f%% (%d keys lost)", 100*d.Progress(), wiped)

	progress(0.45)
	p.Blackhole(true)
	time.Sleep(1500 * time.Millisecond) // the stall itself
	p.Heal()
	t.Logf("Redis stalled for 1.5s until %.0f%%", 100*d.Progress())

	progress(0.7)
	for range 10 {
		p.CutAll()
		time.Sleep(50 * time.Millisecond) // the pace of the cuts
	}
	t.Logf("10 cuts of every Redis connection until %.0f%%", 100*d.Progress())

	waitDone(t, done, 90*time.Second)
	t.Logf("%d keys × %d copies in %v: %s", d.Total, d.Dup, time.Since(start).Round(time.Millisecond), &d.Stats)
	checkHealed(t, c, res)
	checkAll(t, c, res, initial)
}
