package server

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// statsBody is the body of GET /stats: per-second series over the last
// seconds, oldest first, the last one the second before end.
type statsBody struct {
	End      int64      `json:"end"`     // Unix second after the last point
	Seconds  int        `json:"seconds"` // points per series
	Redis    string     `json:"redis"`   // now: up, down (with why) or disabled
	Added    []uint32   `json:"added"`
	Replayed []uint32   `json:"replayed"`
	Conflict []uint32   `json:"conflicts"` // 409 answers
	Errors   []uint32   `json:"errors"`    // 5xx answers
	P50      []*float64 `json:"p50_ms"`    // null: no request that second
	P99      []*float64 `json:"p99_ms"`
	RedisUp  []*bool    `json:"redis_up"` // null: not probed that second (no one watched)
}

// handleStats serves GET /stats: the live charts' data, computed from the
// in-process counters of this instance (not from the Prometheus text).
// Each call probes Redis, as /readyz does, and records the answer.
func handleStats(d Deps, s *stats) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		redis := "disabled"
		if d.RedisState != nil {
			ctx, cancel := context.WithTimeout(r.Context(), time.Second)
			redis = d.RedisState(ctx)
			cancel()
			s.noteRedis(redis == "up")
		}
		body := s.snapshot(statsWindow)
		body.Redis = redis
		w.Header()["Content-Type"] = jsonType
		json.NewEncoder(w).Encode(body)
	})
}

// snapshot returns the last n complete seconds.
func (s *stats) snapshot(n int) statsBody {
	s.mu.Lock()
	defer s.mu.Unlock()
	end := s.now().Unix()
	b := statsBody{End: end, Seconds: n}
	for sec := end - int64(n); sec < end; sec++ {
		var x statsSecond
		if slot := &s.secs[sec%statsWindow]; slot.sec == sec {
			x = *slot
		}
		b.Added = append(b.Added, x.added)
		b.Replayed = append(b.Replayed, x.replayed)
		b.Conflict = append(b.Conflict, x.conflicts)
		b.Errors = append(b.Errors, x.errors)
		b.P50 = append(b.P50, x.quantile(0.5))
		b.P99 = append(b.P99, x.quantile(0.99))
		var up *bool
		if x.redis != 0 {
			v := x.redis > 0
			up = &v
		}
		b.RedisUp = append(b.RedisUp, up)
	}
	return b
}
