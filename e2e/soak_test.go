package e2e_test

import (
	"math/big"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/idemsum/idemsum/e2e/harness"
)

// faultEvery is the pause between two faults of TestSoak.
const faultEvery = 3 * time.Second

// TestSoak holds a moderate load on three instances for IDEMSUM_SOAK (a
// duration such as 5m; skipped when unset, see scripts/soak.sh) with a
// fault every few seconds, in turn: SIGKILL and restart of an instance,
// SIGSTOP for twice the lease then SIGCONT, FLUSHDB of Redis, cuts of
// every MySQL connection, Redis restarted (its connections cut and
// refused for a second), and MySQL latency for a few seconds. Then it
// heals everything, checks that a fresh round gets no 5xx and every
// invariant (CheckAll), and logs one summary line.
func TestSoak(t *testing.T) {
	v := os.Getenv("IDEMSUM_SOAK")
	if v == "" {
		t.Skip("set IDEMSUM_SOAK to a duration such as 5m to run the soak (scripts/soak.sh)")
	}
	length, err := time.ParseDuration(v)
	if err != nil || length <= 0 {
		t.Fatalf("IDEMSUM_SOAK=%q: want a duration such as 5m", v)
	}
	c := harness.StartCluster(t, harness.Options{Instances: 3, RedisDB: harness.RedisDBSoak, MySQLProxy: true, RedisProxy: true})
	c.FlushRedis(t) // the soak's own database
	initial := harness.GetTotal(t, c.Instances[0])
	res := harness.NewResults()
	d := harness.NewDriver(t, c, res)
	d.Workers = 8
	rss := harness.SampleRSS(c)
	start := time.Now()
	end := start.Add(length)
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		for time.Now().Before(end) {
			<-d.Go(harness.NewKeys("soak", 1000))
		}
	}()

	faults := map[string]int{}
	for step := 0; time.Now().Add(faultEvery).Before(end); step++ {
		time.Sleep(faultEvery) // the pace of the faults
		kind := soakFault(t, c, step)
		faults[kind]++
	}
	select {
	case <-loadDone:
	case <-time.After(2 * time.Minute):
		t.Fatalf("the load did not end within 2 minutes of the soak's end")
	}
	healed := time.Now()
	c.MySQLProxy.Heal()
	c.RedisProxy.Heal()
	t.Logf("%v of load with %d faults %s: %s; MySQL proxy %+v; Redis proxy %+v", time.Since(start).Round(time.Second),
		harness.SumCounts(faults), harness.FormatCounts(faults), &d.Stats, c.MySQLProxy.Stats(), c.RedisProxy.Stats())
	harness.CheckNoStuck(t, res, healed, harness.ResolveBound)
	fivexx := harness.CheckHealed(t, c, res)
	peaks := rss.Stop()
	harness.CheckRSS(t, peaks, harness.RSSBound)
	_, peak := maxPeak(peaks)
	s := summarize(t, c, res, initial)
	t.Logf("SOAK SUMMARY: %v, 3 instances; faults %d %s; requests %d; keys %d; double adds %d; stuck keys %d; 5xx after heal %d; total off by %v; peak VmRSS %.1f MiB",
		length, harness.SumCounts(faults), harness.FormatCounts(faults), s.requests, s.keys, s.doubleAdds, s.stuck, fivexx, s.offBy, float64(peak)/(1<<20))
	if s.doubleAdds != 0 || s.stuck != 0 || fivexx != 0 || s.offBy.Sign() != 0 {
		t.Errorf("got %d double adds, %d stuck keys, %d 5xx after heal, total off by %v; want 0 each", s.doubleAdds, s.stuck, fivexx, s.offBy)
	}
	harness.CheckAll(t, c, res, initial)
}

// soakFault injects fault number step of TestSoak's rotation and returns
// its kind. Each fault is over (healed) when it returns.
func soakFault(t *testing.T, c *harness.Cluster, step int) string {
	t.Helper()
	in := c.Instances[rand.IntN(len(c.Instances))]
	switch step % 6 {
	case 0:
		in.Restart()
		return "SIGKILL+restart"
	case 1:
		in.Stop()
		time.Sleep(2 * harness.LeaseTTL) // the freeze itself
		in.Cont()
		return "SIGSTOP 2×lease"
	case 2:
		c.FlushRedis(t)
		return "FLUSHDB"
	case 3:
		for range 3 {
			c.MySQLProxy.CutAll()
			time.Sleep(100 * time.Millisecond) // the pace of the cuts
		}
		return "MySQL cut ×3"
	case 4:
		c.RedisProxy.Refuse(true)
		c.RedisProxy.CutAll()
		time.Sleep(time.Second) // Redis stays down this long
		c.RedisProxy.Heal()
		return "Redis restart"
	default:
		c.MySQLProxy.SetLatency(time.Duration(300+rand.IntN(300)) * time.Millisecond)
		time.Sleep(3 * time.Second) // the slow spell
		c.MySQLProxy.Heal()
		return "MySQL latency 3s"
	}
}

// soakSummary are the figures of a soak.
type soakSummary struct {
	requests, keys, doubleAdds, stuck int
	offBy                             *big.Int // MySQL's total − initial − Σ numbers
}

// summarize counts HTTP requests (attempts) and keys, the keys answered
// 200 without Idempotent-Replayed more than once (double adds), the keys
// with a copy never answered 200 (stuck), and how far the total in MySQL
// is from initial plus each key's number once.
func summarize(t testing.TB, c *harness.Cluster, res *harness.Results, initial *big.Int) soakSummary {
	t.Helper()
	s := soakSummary{offBy: new(big.Int)}
	want := new(big.Int).Set(initial)
	res.Each(func(ks *harness.KeyState) {
		s.keys++
		want.Add(want, new(big.Int).SetUint64(ks.Number))
		fresh, stuck := 0, false
		for _, snd := range ks.Sends {
			s.requests += len(snd.Attempts)
			if snd.OK && !snd.Replayed {
				fresh++
			}
			stuck = stuck || !snd.OK
		}
		if fresh > 1 {
			s.doubleAdds++
		}
		if stuck {
			s.stuck++
		}
	})
	var total string
	if err := c.DB.QueryRowContext(t.Context(), "SELECT total FROM sum_total WHERE id = 1").Scan(&total); err != nil {
		t.Fatalf("read sum_total: %v", err)
	}
	got, _ := new(big.Int).SetString(total, 10)
	s.offBy.Sub(got, want)
	return s
}

// maxPeak returns the instance with the largest peak and that peak.
func maxPeak(peaks map[string]int64) (string, int64) {
	name, most := "", int64(0)
	for n, b := range peaks {
		if b > most {
			name, most = n, b
		}
	}
	return name, most
}
