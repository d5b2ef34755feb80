package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
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

// loader sends the load and keeps what the check needs.
type loader struct {
	cfg     config
	targets []*target
	prefix  string
	next    atomic.Int64 // key counter, and request budget with -n
	sent    atomic.Int64
	mu      sync.Mutex
	used    []keyed           // keys sent so far, for dup mode
	unknown map[string]uint64 // keyed requests whose outcome is unknown
	added   map[string]uint64 // keys known to be added (first 200)
	free    uint64sum         // keyless numbers acknowledged with 200
	lost    int               // keyless requests with unknown outcome
	results [][]outcome       // per worker
	status  map[int]int
}

type keyed struct {
	key    string
	number uint64
}

type uint64sum struct{ hi, lo uint64 } // a 128-bit sum

func (s *uint64sum) add(n uint64) {
	lo := s.lo + n
	if lo < s.lo {
		s.hi++
	}
	s.lo = lo
}

// newLoader returns a loader for cfg, whose URLs parseConfig has checked.
func newLoader(cfg config) *loader {
	var targets []*target
	for _, u := range cfg.URLs {
		t, err := parseTarget(u)
		if err != nil {
			panic(err) // parseConfig let a bad URL through
		}
		targets = append(targets, t)
	}
	prefix := cfg.Prefix
	if prefix == "" {
		prefix = fmt.Sprintf("load-%x-", rand.Uint64())
	}
	return &loader{
		cfg:     cfg,
		targets: targets,
		prefix:  prefix,
		unknown: map[string]uint64{},
		added:   map[string]uint64{},
		results: make([][]outcome, cfg.Concurrency),
		status:  map[int]int{},
	}
}

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
	var wg sync.WaitGroup
	for w := 0; w < l.cfg.Concurrency; w++ {
		wg.Go(func() { l.worker(ctx, more, w) })
	}
	wg.Wait()
	return time.Since(start)
}

func (l *loader) worker(ctx, more context.Context, w int) {
	rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
	c := l.newClient(ctx)
	defer c.close()
	for i := w; more.Err() == nil; i++ {
		if l.cfg.Requests > 0 && l.sent.Add(1) > int64(l.cfg.Requests) {
			return
		}
		k := l.pick(rng)
		o := c.add(i, k)
		if ctx.Err() != nil && o.status == 0 {
			l.record(k, o, false) // cut by an interrupt: outcome unknown
			return
		}
		l.results[w] = append(l.results[w], o)
		l.record(k, o, true)
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
	k := keyed{key: l.prefix + strconv.FormatInt(l.next.Add(1), 10), number: n}
	if l.cfg.Keys == "dup" {
		l.mu.Lock()
		l.used = append(l.used, k)
		l.mu.Unlock()
	}
	return k
}

// record keeps what the final check needs to know about one request.
func (l *loader) record(k keyed, o outcome, counted bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if counted {
		l.status[o.status]++
	}
	known := o.status == http.StatusOK
	rejected := o.status >= 400 && o.status < 500
	switch {
	case k.key == "" && known:
		l.free.add(k.number)
	case k.key == "" && !rejected:
		l.lost++
	case known:
		l.added[k.key] = k.number
		delete(l.unknown, k.key)
	case !rejected:
		if _, ok := l.added[k.key]; !ok {
			l.unknown[k.key] = k.number
		}
	}
}
