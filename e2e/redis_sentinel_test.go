package e2e_test

import (
	"testing"
	"time"

	"github.com/idemsum/idemsum/e2e/harness"
	"github.com/idemsum/idemsum/internal/redistopo"
)

// TestRedisSentinel runs three instances on a master and a replica watched
// by three sentinels (-redis-url in go-redis's Sentinel form), and fails
// the master over twice under load: 1,000 keys × 3 concurrent duplicates
// through a SENTINEL FAILOVER, then 1,000 more through a SIGKILL of the
// new master (the old one, by then its replica, takes over). Every key
// exact, no 5xx, none stuck past a few leases, and Redis used again by
// every instance after each failover, without a restart. Not parallel (see
// TestRedisCluster).
func TestRedisSentinel(t *testing.T) {
	topo := redistopo.StartSentinel(t, 1, 3)
	c := harness.StartCluster(t, harness.Options{Instances: 3, RedisURL: topo.URL(), Redis: topo.Client()})
	initial := harness.GetTotal(t, c.Instances[0])
	res := harness.NewResults()
	first, err := topo.Master(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var second *redistopo.Node
	res.Merge(harness.FailoverUnderLoad(t, c, "SENTINEL FAILOVER of master "+first.Addr, func() {
		if second, err = topo.Failover(30 * time.Second); err != nil {
			t.Fatal(err)
		}
	}))
	harness.CheckRedisUsed(t, c, res)
	res.Merge(harness.FailoverUnderLoad(t, c, "SIGKILL of master "+second.Addr, func() {
		second.Kill()
		third, err := topo.WaitMaster(30*time.Second, second)
		if err != nil {
			t.Fatal(err)
		}
		if third != first {
			t.Errorf("after the SIGKILL the master is %s, want %s (the only replica)", third.Addr, first.Addr)
		}
	}))
	harness.CheckRedisUsed(t, c, res)
	harness.CheckAll(t, c, res, initial)
}
