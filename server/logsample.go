package server

import (
	"sync"
	"time"
)

// refusalEvery is the least time between two WARN lines about refused
// requests of one kind.
const refusalEvery = 10 * time.Second

// refusalLog samples the WARN lines about requests refused for who sent
// them (401, 403), so that a caller cannot flood the log: at most one line
// per interval and kind, each counting the refusals since the previous
// one. Refusals after the last line are told by the next one, if any;
// idemsum_auth_denied_total counts every one. It is safe for concurrent
// use.
type refusalLog struct {
	every time.Duration
	now   func() time.Time
	mu    sync.Mutex
	last  map[string]time.Time // when the last line of a kind was let through
	count map[string]int       // refusals of a kind since that line
}

func newRefusalLog(every time.Duration, now func() time.Time) *refusalLog {
	return &refusalLog{every: every, now: now, last: map[string]time.Time{}, count: map[string]int{}}
}

// note counts one refusal of kind and returns how many refusals of kind
// the line to log now reports, this one included, or 0 when no line is
// due.
func (s *refusalLog) note(kind string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.count[kind]++
	now := s.now()
	if last, ok := s.last[kind]; ok && now.Sub(last) < s.every {
		return 0
	}
	n := s.count[kind]
	s.last[kind], s.count[kind] = now, 0
	return n
}
