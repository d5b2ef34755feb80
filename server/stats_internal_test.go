package server

import (
	"net/http"
	"testing"
	"time"
)

func TestStatsSeries(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_000_000, 0)
	s := newStats(func() time.Time { return now })
	s.observe("added", http.StatusOK, time.Millisecond)
	s.observe("added", http.StatusOK, 3*time.Millisecond)
	s.observe("replayed", http.StatusOK, 100*time.Microsecond)
	s.observe("in_flight", http.StatusConflict, time.Millisecond)
	s.observe("unavailable", http.StatusServiceUnavailable, 2*time.Second)
	s.noteRedis(false)
	now = now.Add(2 * time.Second)
	s.observe("added", http.StatusOK, time.Millisecond)
	now = now.Add(time.Second)
	b := s.snapshot(3)
	if b.End != 1_000_003 || b.Seconds != 3 {
		t.Fatalf("end %d seconds %d, want 1000003 and 3", b.End, b.Seconds)
	}
	want := [][]uint32{{5 - 3, 0, 1}, {1, 0, 0}, {1, 0, 0}, {1, 0, 0}}
	for i, got := range [][]uint32{b.Added, b.Replayed, b.Conflict, b.Errors} {
		for j := range got {
			if got[j] != want[i][j] {
				t.Errorf("series %d: got %v, want %v", i, got, want[i])
				break
			}
		}
	}
	if b.P50[0] == nil || *b.P50[0] < 1 || *b.P50[0] > 1.3 || b.P99[0] == nil || *b.P99[0] < 2000 || b.P50[1] != nil {
		t.Errorf("p50 %v p99 %v, want ~1ms and ≥2s in the first second and none in the second", deref(b.P50), deref(b.P99))
	}
	if b.RedisUp[0] == nil || *b.RedisUp[0] || b.RedisUp[1] != nil {
		t.Errorf("redis_up %v, want down in the first second, unknown after", b.RedisUp)
	}
	now = now.Add(statsWindow * time.Second)
	if b := s.snapshot(statsWindow); b.Added[0] != 0 || b.Added[statsWindow-1] != 0 {
		t.Errorf("after the window: got stale counts %v", b.Added)
	}
}

func deref(ps []*float64) []float64 {
	var out []float64
	for _, p := range ps {
		if p == nil {
			out = append(out, -1)
		} else {
			out = append(out, *p)
		}
	}
	return out
}
