package auth

import (
	"sync"
	"sync/atomic"
	"time"
)

// Set holds the current Tokens of a token file and reloads it, and shows
// in metrics how its reads went (Register). It is safe for concurrent
// use: Current never blocks, and sees either the Tokens before a Reload
// or those after it, never a mix.
type Set struct {
	path string
	now  func() time.Time // stamps a successful read, for the metrics
	mu   sync.Mutex       // serialises Reload, so the file read last is the one kept
	cur  atomic.Pointer[Tokens]
	m    *setMetrics
}

// Open loads the token file at path into a new Set; it returns an error
// (naming the file, and the line) if the file cannot be read or is bad.
func Open(path string) (*Set, error) { return open(path, time.Now) }

func open(path string, now func() time.Time) (*Set, error) {
	s := &Set{path: path, now: now, m: newSetMetrics()}
	if err := s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

// Current returns the Tokens loaded last.
func (s *Set) Current() *Tokens { return s.cur.Load() }

// Reload reads the file again and makes its Tokens current. If the file
// cannot be read or is bad, it keeps the current Tokens and returns the
// error, which names the file and line. Each Reload counts in
// idemsum_auth_reloads_total by result.
func (s *Set) Reload() error {
	err := s.load()
	s.m.reloaded(err)
	return err
}

// load reads the file and, if it is good, makes its Tokens current; it
// records the result for the metrics.
func (s *Set) load() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := Load(s.path)
	if err != nil {
		s.m.read(err, time.Time{})
		return err
	}
	s.cur.Store(t)
	s.m.read(nil, s.now())
	return nil
}

// Path returns the path of the token file.
func (s *Set) Path() string { return s.path }
