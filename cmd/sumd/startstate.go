package main

import (
	"sync/atomic"

	"idemsum/server"
)

// notAnswering is the reason of MySQL "down".
const notAnswering = "MySQL does not answer"

// startError is a failed attempt to prepare MySQL and what /readyz says
// of it.
type startError struct {
	state server.StartState
	err   error
}

// startFailed returns the *startError of err, with MySQL's state and a
// reason for operators (without addresses or secrets: the log has err).
func startFailed(state, reason string, err error) error {
	return &startError{server.StartState{MySQL: state, Reason: reason}, err}
}

func (e *startError) Error() string { return e.err.Error() }
func (e *startError) Unwrap() error { return e.err }

// startState is what keeps sumd starting, for /readyz: MySQL "down" until
// set. It is safe for concurrent use.
type startState struct {
	p atomic.Pointer[server.StartState]
}

func (s *startState) set(st server.StartState) { s.p.Store(&st) }

func (s *startState) get() server.StartState {
	if p := s.p.Load(); p != nil {
		return *p
	}
	return server.StartState{MySQL: "down", Reason: notAnswering}
}
