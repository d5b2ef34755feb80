package main

import (
	"cmp"
	"net/http"
)

// tally is what the check needs to know of a set of requests.
type tally struct {
	once    bool             // keys are not repeated (-keys unique)
	status  map[int]int      // requests by status, 0 for a transport error
	free    uint64sum        // numbers acknowledged with 200: keyless, or with once, keyed
	lost    int              // keyless requests with unknown outcome
	added   map[int64]uint64 // keys known to be added (a 200)
	unknown map[int64]uint64 // keys whose outcome is unknown
	err     error            // one of the transport errors, if any
}

func newTally() *tally {
	return &tally{status: map[int]int{}, added: map[int64]uint64{}, unknown: map[int64]uint64{}}
}

// record takes in one request's outcome; counted is false for a request
// cut off by an interrupt, which is not in the status counts. A 200 makes
// a key known whatever else its other requests got. With once, a key's
// 200 is its only request of the load and needs no map entry: the cost of
// keeping every key showed in the load generator's CPU per request.
func (t *tally) record(k keyed, o outcome, counted bool) {
	if counted {
		t.status[o.status]++
	}
	known := o.status == http.StatusOK
	rejected := o.status >= 400 && o.status < 500
	switch {
	case known && (k.id == 0 || t.once):
		t.free.add(k.number)
	case k.id == 0 && !rejected:
		t.lost++
	case known:
		t.added[k.id] = k.number
		delete(t.unknown, k.id)
	case !rejected:
		if _, ok := t.added[k.id]; !ok {
			t.unknown[k.id] = k.number
		}
	}
}

// merge adds u, the tally of other requests, to t.
func (t *tally) merge(u *tally) {
	for s, n := range u.status {
		t.status[s] += n
	}
	t.free.add128(u.free)
	t.lost += u.lost
	t.err = cmp.Or(t.err, u.err)
	for id, n := range u.added {
		t.added[id] = n
		delete(t.unknown, id)
	}
	for id, n := range u.unknown {
		if _, ok := t.added[id]; !ok {
			t.unknown[id] = n
		}
	}
}

type uint64sum struct{ hi, lo uint64 } // a 128-bit sum

func (s *uint64sum) add(n uint64) {
	lo := s.lo + n
	if lo < s.lo {
		s.hi++
	}
	s.lo = lo
}

func (s *uint64sum) add128(u uint64sum) {
	s.add(u.lo)
	s.hi += u.hi
}
