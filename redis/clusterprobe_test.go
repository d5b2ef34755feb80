package redis_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/idemsum/idemsum/idempotency/redisstore"
	"github.com/idemsum/idemsum/internal/redistopo"
	"github.com/idemsum/idemsum/redis"
)

// TestSlot checks slot against Redis's own CLUSTER KEYSLOT.
func TestSlot(t *testing.T) {
	t.Parallel()
	n := redistopo.StartNode(t, "--cluster-enabled", "yes")
	keys := []string{"", "a", "foo", "123456789", "{user1000}.following", "{}x", "a{b}c", "{{x}}", "x{", "}{y}",
		redisstore.ClaimName("idemsum:42:", "k"), redisstore.RecordName("idemsum:42:", "{k}")}
	for i := range 50 {
		keys = append(keys, fmt.Sprint("probe:{", i, "}"))
	}
	for _, k := range keys {
		want, err := n.Client().ClusterKeySlot(t.Context(), k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got := redis.Slot(k); int64(got) != want {
			t.Errorf("Slot(%q) = %d, want %d (CLUSTER KEYSLOT)", k, got, want)
		}
	}
}

func TestOwnSlots(t *testing.T) {
	t.Parallel()
	nodes := "07c3 127.0.0.1:30004@31004 slave e7d1 0 1426238317239 4 connected\n" +
		"e7d1 127.0.0.1:30001@31001 myself,master - 0 0 1 connected [5-<-abc] 5461 5462-10922\n" +
		"67ed 127.0.0.1:30002@31002 master - 0 1426238316232 2 connected 0-5460\n"
	if lo, hi, ok := redis.OwnSlots(nodes); !ok || lo != 5461 || hi != 5461 {
		t.Errorf("OwnSlots = %d, %d, %v; want 5461, 5461", lo, hi, ok)
	}
	if _, _, ok := redis.OwnSlots("e7d1 127.0.0.1:30001@31001 myself,master - 0 0 1 connected\n"); ok {
		t.Errorf("OwnSlots of a master without slots: ok, want none")
	}
	k := redis.NewSlotKeys("p:")
	if key := k.Within(100, 200); redis.Slot(key) < 100 || redis.Slot(key) > 200 || key != k.Within(100, 200) {
		t.Errorf("Within(100, 200) = %q in slot %d, want a stable key of a slot in [100, 200]", key, redis.Slot(key))
	}
}

func TestRedisReasonOfSeveralMasters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want string
	}{
		{errors.New("CLUSTERDOWN The cluster is down"), "clusterdown"},
		{fmt.Errorf("redisstore: claim: %w", errors.New("MASTERDOWN Link with MASTER is down")), "masterdown"},
		{errors.New("TRYAGAIN Multiple keys request during rehashing of slot"), "tryagain"},
		{errors.New("MOVED 3999 127.0.0.1:6381"), "tryagain"},
		{errors.Join(errors.New("dial tcp 127.0.0.1:1: connect: connection refused"), errors.New("CLUSTERDOWN The cluster is down")), "clusterdown"},
		{errors.Join(errors.New("dial tcp 127.0.0.1:1: connect: connection refused"), errors.New("ERR odd")), "unreachable"},
		{errors.Join(errors.New("ERR odd")), "error"},
	}
	for _, tt := range tests {
		if got := redis.Reason(tt.err); got != tt.want {
			t.Errorf("Reason(%q) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
