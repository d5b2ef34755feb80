package redistopo_test

import (
	"testing"
	"time"

	"github.com/idemsum/idemsum/internal/redistopo"
)

// TestSentinel starts a master, a replica and three sentinels, fails the
// master over with SENTINEL FAILOVER, then kills the new master.
func TestSentinel(t *testing.T) {
	t.Parallel()
	start := time.Now()
	s := redistopo.StartSentinel(t, 1, 3)
	t.Logf("sentinel topology ready in %v: %s", time.Since(start).Round(time.Millisecond), s.URL())
	ctx := t.Context()
	first, err := s.Master(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Client().Set(ctx, "k", "v", time.Minute).Err(); err != nil {
		t.Fatalf("SET through the failover client: %v", err)
	}
	t0 := time.Now()
	second, err := s.Failover(30 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("SENTINEL FAILOVER: %s → %s in %v", first.Addr, second.Addr, time.Since(t0).Round(time.Millisecond))
	second.Kill()
	t0 = time.Now()
	third, err := s.WaitMaster(30*time.Second, second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("SIGKILL of %s: %s took over in %v", second.Addr, third.Addr, time.Since(t0).Round(time.Millisecond))
	if third != first {
		t.Errorf("after the kill the master is %s, want the first master %s back", third.Addr, first.Addr)
	}
	if err := s.Client().Set(ctx, "k", "v", time.Minute).Err(); err != nil {
		t.Errorf("SET through the failover client after both failovers: %v", err)
	}
}
