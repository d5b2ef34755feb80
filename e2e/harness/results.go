package harness

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/idemsum/idemsum/internal/testenv"
)

// Key is an idempotency key and the number sent with it.
type Key struct {
	Name   string
	Number uint64
}

// NewKeys returns n keys named after the test with random numbers in
// 1..1e12, large enough that a double addition shows in the total.
func NewKeys(tag string, n int) []Key {
	u := testenv.Unique()
	keys := make([]Key, n)
	for i := range keys {
		keys[i] = Key{Name: fmt.Sprintf("e2e-%s-%s-%d", tag, u, i), Number: 1 + rand.Uint64N(1e12)}
	}
	return keys
}

// Attempt is one HTTP exchange of a Send.
type Attempt struct {
	Inst       int
	Start, End time.Time
	Status     int // 0: transport error or timeout
	Err        string
}

// Send is one copy of a key's request, retried until a 200 or a deadline.
type Send struct {
	Copy       int
	Start, End time.Time
	Attempts   []*Attempt // an attempt is listed from its start; End is zero while in flight
	OK         bool
	Body       []byte
	Replayed   bool
	Inst       int    // the instance that answered 200
	Fail       string // why the Send failed, when !OK
}

// Uncertain reports whether an attempt of s may have added without the
// client seeing a 200: a transport error, a timeout or a 5xx.
func (s *Send) Uncertain() bool {
	for _, a := range s.Attempts {
		if a.Status == 0 || a.Status >= 500 {
			return true
		}
	}
	return false
}

// KeyState is a key with every Send made for it.
type KeyState struct {
	Key
	Sends []*Send
}

// Results are the outcomes of every keyed addition a test made, through
// the Driver or recorded by hand. Safe for concurrent use.
type Results struct {
	mu     sync.Mutex
	keys   []*KeyState
	byName map[string]*KeyState
}

// NewResults returns empty Results.
func NewResults() *Results { return &Results{byName: map[string]*KeyState{}} }

// state returns k's KeyState, adding it if new.
func (r *Results) state(k Key) *KeyState {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ks, ok := r.byName[k.Name]; ok {
		if ks.Number != k.Number {
			panic("results: key " + k.Name + " recorded with two numbers")
		}
		return ks
	}
	ks := &KeyState{Key: k}
	r.keys = append(r.keys, ks)
	r.byName[k.Name] = ks
	return ks
}

// Record adds a 200 response to k, obtained outside the Driver.
func (r *Results) Record(k Key, inst int, resp *Response) {
	ks := r.state(k)
	now := time.Now()
	s := &Send{Start: now, End: now, OK: true, Body: resp.Body, Replayed: resp.Replayed, Inst: inst}
	s.Attempts = []*Attempt{{Inst: inst, Start: now, End: now, Status: resp.Status}}
	r.mu.Lock()
	ks.Sends = append(ks.Sends, s)
	r.mu.Unlock()
}

// RecordUnseen adds to k a Send whose first attempt, made at sent, was
// never read by the client (an outcome unknown to it), and whose retry
// got resp from instance inst.
func (r *Results) RecordUnseen(k Key, inst int, sent time.Time, resp *Response) {
	ks := r.state(k)
	now := time.Now()
	s := &Send{Start: sent, End: now, OK: resp.Status == http.StatusOK, Body: resp.Body, Replayed: resp.Replayed, Inst: inst}
	if !s.OK {
		s.Fail = fmt.Sprintf("retry: status %d", resp.Status)
	}
	s.Attempts = []*Attempt{
		{Inst: inst, Start: sent, End: now, Err: "response never read"},
		{Inst: inst, Start: now, End: now, Status: resp.Status},
	}
	r.mu.Lock()
	ks.Sends = append(ks.Sends, s)
	r.mu.Unlock()
}

// Add adds s, made outside the Driver, to k's Sends.
func (r *Results) Add(k Key, s *Send) {
	ks := r.state(k)
	r.mu.Lock()
	ks.Sends = append(ks.Sends, s)
	r.mu.Unlock()
}

// Locked runs f with r locked, so that f may read the Sends that a Driver
// is still updating; f must not call r.
func (r *Results) Locked(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f()
}

// Merge adds every key of o, with its Sends, to r.
func (r *Results) Merge(o *Results) {
	o.Each(func(ks *KeyState) {
		mine := r.state(ks.Key)
		r.mu.Lock()
		mine.Sends = append(mine.Sends, ks.Sends...)
		r.mu.Unlock()
	})
}

// Each calls f for every key under the lock; f must not call r.
func (r *Results) Each(f func(*KeyState)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ks := range r.keys {
		f(ks)
	}
}

// Len returns the number of keys.
func (r *Results) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.keys)
}
