package testenv

import (
	"bytes"
	"sync"
	"time"
)

// Eventually polls cond until it holds, true, or d passes, false: a
// deadline for what a test waits on, never a sleep as synchronisation.
func Eventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// Buffer is a bytes.Buffer safe for one goroutine that writes (a
// process's output, a logger) and a test that reads.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns a copy of what was written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
