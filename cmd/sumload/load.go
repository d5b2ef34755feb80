package main

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// outcome is what one request did.
type outcome struct {
	status   int // 0 for a transport error
	latency  time.Duration
	replayed bool
}

// loader sends the load and keeps what the check needs. During the load
// each worker writes only its own results and tally; merge adds the
// tallies up afterwards.
type loader struct {
	cfg     config
	targets []*target
	prefix  string
	next    atomic.Int64 // key counter
	sent    atomic.Int64 // requests started, the budget with -n
	done    atomic.Int64 // requests finished, for the progress line
	slots   atomic.Int64 // with -rate: the next send slot's number
	start   time.Time    // with -rate: when slot 0 is due
	mu      sync.Mutex
	used    []keyed     // keys sent so far, for dup mode
	results [][]outcome // per worker
	tallies []*tally    // per worker
	tally               // the merged tallies, and resolve's findings
}

// keyed is one addition: its number, and its key's id (0: no key). The
// key is the run's prefix followed by the id.
type keyed struct {
	id     int64
	number uint64
}

// newLoader returns a loader for cfg, whose URLs parseConfig has checked.
func newLoader(cfg config) *loader {
	var targets []*target
	for _, u := range cfg.URLs {
		t, err := parseTarget(u, cfg.Token)
		if err != nil {
			panic(err) // parseConfig let a bad URL through
		}
		targets = append(targets, t)
	}
	prefix := cfg.Prefix
	if prefix == "" {
		prefix = fmt.Sprintf("load-%x-", rand.Uint64())
	}
	l := &loader{cfg: cfg, targets: targets, prefix: prefix, results: make([][]outcome, cfg.Concurrency), tally: *newTally()}
	for range cfg.Concurrency {
		t := newTally()
		t.once = cfg.Keys == "unique"
		l.tallies = append(l.tallies, t)
	}
	return l
}

// key is the Idempotency-Key of id.
func (l *loader) key(id int64) string { return l.prefix + strconv.FormatInt(id, 10) }

// load runs the workers until the duration or request budget is spent. At
// the end of the duration no new request starts, but those on their way
// finish (within -timeout), so that their outcome is known; only ctx (an
// interrupt) cuts them off.
func (l *loader) load(ctx context.Context) time.Duration {
	more := ctx // while it lasts, workers start new requests
	if l.cfg.Requests == 0 {
		var cancel context.CancelFunc
		more, cancel = context.WithTimeout(ctx, l.cfg.Duration)
		defer cancel()
	}
	start := time.Now()
	l.start = start
	var wg sync.WaitGroup
	for w := 0; w < l.cfg.Concurrency; w++ {
		wg.Go(func() { l.worker(ctx, more, w) })
	}
	wg.Wait()
	for _, t := range l.tallies {
		l.merge(t)
	}
	return time.Since(start)
}

func (l *loader) worker(ctx, more context.Context, w int) {
	rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
	c := l.newClient(ctx)
	defer c.close()
	t := l.tallies[w]
	for i := w; more.Err() == nil; i++ {
		if l.cfg.Requests > 0 && l.sent.Add(1) > int64(l.cfg.Requests) {
			return
		}
		if !l.pace(more) {
			return
		}
		k := l.pick(rng)
		o, err := c.add(i, k)
		if ctx.Err() != nil && o.status == 0 {
			t.record(k, o, false) // cut by an interrupt: outcome unknown
			return
		}
		l.results[w] = append(l.results[w], o)
		t.record(k, o, true)
		t.err = cmp.Or(t.err, err)
		l.done.Add(1)
	}
}

// pick returns the key and number of the next request.
func (l *loader) pick(rng *rand.Rand) keyed {
	n := l.cfg.Min + rng.Uint64N(l.cfg.Max-l.cfg.Min+1)
	switch l.cfg.Keys {
	case "none":
		return keyed{number: n}
	case "dup":
		if rng.Float64() < l.cfg.DupShare {
			l.mu.Lock()
			if len(l.used) > 0 {
				k := l.used[rng.IntN(len(l.used))]
				l.mu.Unlock()
				return k
			}
			l.mu.Unlock() // no key to repeat yet: fall through to a new one
		}
	}
	k := keyed{id: l.next.Add(1), number: n}
	if l.cfg.Keys == "dup" {
		l.mu.Lock()
		l.used = append(l.used, k)
		l.mu.Unlock()
	}
	return k
}

// pace waits, with -rate, until the next free send slot is due (slots are
// 1/rate apart from the start, whichever client takes them); it reports
// false if more ends first. A slot missed because every client was busy
// is sent late, not skipped, so the rate is an upper bound.
func (l *loader) pace(more context.Context) bool {
	if l.cfg.Rate <= 0 {
		return true
	}
	n := l.slots.Add(1) - 1
	due := l.start.Add(time.Duration(float64(n) / l.cfg.Rate * float64(time.Second)))
	wait := time.Until(due)
	if wait <= 0 {
		return more.Err() == nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-more.Done():
		return false
	}
}
