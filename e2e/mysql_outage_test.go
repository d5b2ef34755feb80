package e2e_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/idemsum/idemsum/e2e/harness"
)

// TestMySQLOutage runs the load through a proxy to MySQL that goes down
// (connections cut and refused), cuts every connection again and again
// (transactions whose outcome the instances cannot know), and stalls.
// Requests fail with 503 and Retry-After meanwhile, a request made while
// MySQL is down adds nothing, and in the end every key is added once.
func TestMySQLOutage(t *testing.T) {
	t.Parallel()
	s := harness.StartScenario(t, harness.Options{Instances: 3, MySQLProxy: true})
	d := s.D
	done := s.Go(harness.NewKeys("mysqlout", 2*harness.LoadKeys))
	p := s.C.MySQLProxy

	s.Progress(0.2)
	p.Refuse(true)
	p.CutAll()
	t.Logf("MySQL down at %.0f%%", 100*d.Progress())
	checkDown(t, s.C)
	p.Refuse(false)

	s.Progress(0.45)
	for range 10 {
		p.CutAll()
		time.Sleep(50 * time.Millisecond) // the pace of the cuts
	}
	t.Logf("10 cuts of every MySQL connection from %.0f%%", 100*d.Progress())

	s.Progress(0.7)
	p.Blackhole(true)
	stalled := d.Stats.OK.Load()
	time.Sleep(1500 * time.Millisecond) // the stall itself
	p.Heal()
	t.Logf("MySQL stalled for 1.5s at %.0f%%; %d answers meanwhile", 100*d.Progress(), d.Stats.OK.Load()-stalled)

	harness.WaitDone(t, done, 90*time.Second)
	t.Log(s.Summary())
	if d.Stats.Unavailable.Load() == 0 {
		t.Errorf("no 503 during the MySQL outage; the scenario tested nothing")
	}
	harness.CheckHealed(t, s.C, s.Res)
	s.Check()
}

// checkDown checks every instance while MySQL is down: /readyz is 503,
// GET /sum and a new keyed addition are 503 problems with Retry-After.
// The addition is never retried: CheckAll's ledger check then proves it
// added nothing.
func checkDown(t testing.TB, c *harness.Cluster) {
	t.Helper()
	for _, in := range c.Instances {
		resp := harness.Call(t, in, "GET", "/readyz", nil, "", "")
		if resp.Status != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("GET /readyz on %s while MySQL is down: got %d %s (Retry-After %q), want 503 with Retry-After",
				in.Name, resp.Status, resp.Body, resp.Header.Get("Retry-After"))
		}
		harness.CheckProblem(t, "GET /sum on "+in.Name+" while MySQL is down", harness.Call(t, in, "GET", "/sum", nil, "", ""), http.StatusServiceUnavailable)
		k := harness.NewKeys("down", 1)[0]
		resp, err := harness.SendOne(t.Context(), harness.Client, in, k)
		if err != nil {
			t.Fatalf("POST /sum on %s while MySQL is down: %v", in.Name, err)
		}
		harness.CheckProblem(t, "POST /sum on "+in.Name+" while MySQL is down", resp, http.StatusServiceUnavailable)
		if _, err := harness.RetryAfter(resp); err != nil {
			t.Errorf("POST /sum on %s while MySQL is down: %v", in.Name, err)
		}
	}
}
