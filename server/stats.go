package server

import (
	"math"
	"net/http"
	"sync"
	"time"
)

// statsWindow is how many seconds of history the stats keep.
const statsWindow = 300

// latBuckets are the latency buckets of the stats: bucket i holds
// latencies up to latBase·latGrowth^i, the last one everything longer.
const (
	latBuckets = 64
	latBase    = 50 * time.Microsecond
	latGrowth  = 1.25
)

// statsSecond is one second of the stats.
type statsSecond struct {
	sec                                int64 // Unix second; another means the slot is stale
	added, replayed, conflicts, errors uint32
	lat                                [latBuckets]uint32
	redis                              int8 // 0 not probed, 1 up, -1 down
}

// stats counts requests per second over the last statsWindow seconds, in
// process, for the live charts of the page (GET /stats). Safe for
// concurrent use.
type stats struct {
	mu   sync.Mutex
	secs [statsWindow]statsSecond
	now  func() time.Time
}

func newStats(now func() time.Time) *stats { return &stats{now: now} }

// slot returns the current second's slot, reset if stale; s.mu is held.
func (s *stats) slot(sec int64) *statsSecond {
	b := &s.secs[sec%statsWindow]
	if b.sec != sec {
		*b = statsSecond{sec: sec}
	}
	return b
}

// observe counts one request with its metric outcome, status and latency.
func (s *stats) observe(outcome string, status int, d time.Duration) {
	i := latBucket(d)
	s.mu.Lock()
	b := s.slot(s.now().Unix())
	switch {
	case outcome == "added":
		b.added++
	case outcome == "replayed":
		b.replayed++
	}
	switch {
	case status == http.StatusConflict:
		b.conflicts++
	case status >= 500:
		b.errors++
	}
	b.lat[i]++
	s.mu.Unlock()
}

// noteRedis records whether Redis was up this second.
func (s *stats) noteRedis(up bool) {
	s.mu.Lock()
	b := s.slot(s.now().Unix())
	b.redis = -1
	if up {
		b.redis = 1
	}
	s.mu.Unlock()
}

func latBucket(d time.Duration) int {
	if d <= latBase {
		return 0
	}
	i := int(math.Ceil(math.Log(float64(d)/float64(latBase)) / math.Log(latGrowth)))
	return min(i, latBuckets-1)
}

// latBound is the upper bound of bucket i in milliseconds.
func latBound(i int) float64 {
	return float64(latBase) * math.Pow(latGrowth, float64(i)) / float64(time.Millisecond)
}

// quantile returns the latency (ms, the upper bound of its bucket) under
// which the fraction q of the second's requests fell; nil without any.
func (b *statsSecond) quantile(q float64) *float64 {
	var n uint32
	for _, c := range b.lat {
		n += c
	}
	if n == 0 {
		return nil
	}
	rank := uint32(math.Ceil(q * float64(n)))
	var seen uint32
	for i, c := range b.lat {
		if seen += c; seen >= rank {
			v := math.Round(latBound(i)*1000) / 1000
			return &v
		}
	}
	return nil
}
