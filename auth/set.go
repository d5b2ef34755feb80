package auth

import (
	"sync"
	"sync/atomic"
)

// Set holds the current Tokens of a token file and reloads it. It is safe
// for concurrent use: Current never blocks, and sees either the Tokens
// before a Reload or those after it, never a mix.
type Set struct {
	path string
	mu   sync.Mutex // serialises Reload, so the file read last is the one kept
	cur  atomic.Pointer[Tokens]
}

// Open loads the token file at path into a new Set; it returns an error
// (naming the file, and the line) if the file cannot be read or is bad.
func Open(path string) (*Set, error) {
	s := &Set{path: path}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// Current returns the Tokens loaded last.
func (s *Set) Current() *Tokens { return s.cur.Load() }

// Reload reads the file again and makes its Tokens current. If the file
// cannot be read or is bad, it keeps the current Tokens and returns the
// error, which names the file and line.
func (s *Set) Reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := Load(s.path)
	if err != nil {
		return err
	}
	s.cur.Store(t)
	return nil
}

// Path returns the path of the token file.
func (s *Set) Path() string { return s.path }
