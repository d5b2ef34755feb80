package redistopo_test

import (
	"testing"
	"time"

	"github.com/idemsum/idemsum/internal/redistopo"
)

// TestCluster starts 3 masters with a replica each, kills a master and
// waits for its replica to take over.
func TestCluster(t *testing.T) {
	t.Parallel()
	start := time.Now()
	c := redistopo.StartCluster(t, 3, 1)
	t.Logf("cluster of %d nodes ready in %v: %s", len(c.Nodes), time.Since(start).Round(time.Millisecond), c.URL())
	ctx := t.Context()
	masters, err := c.Masters(ctx)
	if err != nil || len(masters) != 3 {
		t.Fatalf("Masters = %v, %v; want 3", masters, err)
	}
	if err := c.Client().Set(ctx, "k", "v", time.Minute).Err(); err != nil {
		t.Fatalf("SET through the cluster client: %v", err)
	}
	masters[0].Kill()
	killed := time.Now()
	if err := c.WaitReady(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("a replica took over from %s in %v", masters[0].Addr, time.Since(killed).Round(time.Millisecond))
	now, err := c.Masters(ctx)
	if err != nil || len(now) != 3 {
		t.Fatalf("Masters after the failover = %v, %v; want 3", now, err)
	}
	for _, m := range now {
		if m == masters[0] {
			t.Errorf("the killed node %s still serves slots", m.Addr)
		}
	}
}
