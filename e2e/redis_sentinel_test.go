package e2e_test

import (
	"testing"
	"time"

	"idemsum/internal/redistopo"
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
	c := StartCluster(t, Options{Instances: 3, RedisURL: topo.URL(), Redis: topo.Client()})
	initial := getTotal(t, c.Instances[0])
	res := newResults()
	first, err := topo.Master(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var second *redistopo.Node
	res.Merge(failoverUnderLoad(t, c, "SENTINEL FAILOVER of master "+first.Addr, func() {
		if second, err = topo.Failover(30 * time.Second); err != nil {
			t.Fatal(err)
		}
	}))
	checkRedisUsed(t, c, res)
	res.Merge(failoverUnderLoad(t, c, "SIGKILL of master "+second.Addr, func() {
		second.Kill()
		third, err := topo.WaitMaster(30*time.Second, second)
		if err != nil {
			t.Fatal(err)
		}
		if third != first {
			t.Errorf("after the SIGKILL the master is %s, want %s (the only replica)", third.Addr, first.Addr)
		}
	}))
	checkRedisUsed(t, c, res)
	checkAll(t, c, res, initial)
}
