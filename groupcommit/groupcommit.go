// Package groupcommit is group commit: it gathers concurrent additions on one
// instance into one Ledger.Add, so that the hot total row and the log
// flush are paid once per batch rather than once per request.
package groupcommit

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/idemsum/idemsum"
)

// Adder is an idemsum.Adder that shares Ledger.Add among concurrent
// callers. While all Flushers are busy, additions queue up and leave as one
// batch when a flusher frees up; a batch that is not full waits at most
// MaxWait for more. Unless Fixed, the batch adapts to the moment
// (docs/design.md#group-commit): a batch that had to wait for a flusher
// (commits back to back) also waits up to half the last commit's time for
// more, and the batch limit grows past MaxSize with the last commit's time,
// bounded by MaxBatchBytes; an idle Adder flushes at once. Each caller gets
// its own Result (the total right after its own addition). Adder is safe
// for concurrent use; Close stops it after the queued additions are
// flushed.
type Adder struct {
	ledger  idemsum.Ledger
	maxSize int
	maxWait time.Duration
	in      chan *call
	slots   chan struct{}
	stopped chan struct{}
	mu      sync.RWMutex // guards closed against sends on a closed in
	closed  bool
	// lastCommit is the duration of the last Ledger.Add, in nanoseconds,
	// lastSize its additions (1 if it formed idle) and lastEnd its end
	// (Unix nanoseconds).
	lastCommit, lastSize, lastEnd atomic.Int64
	// Fixed, when set, turns adaptation off: batches of at most maxSize,
	// waiting only maxWait. Set it before the first Add.
	Fixed bool
	// Metrics, when set, count the size of each batch. Set it before the
	// first Add.
	Metrics *Metrics
	// FlushContext, when set, returns the context of a batch's Ledger.Add
	// from the contexts of its callers' Adds (for tracing), and a func
	// called once the batch is done; by default the batch runs on
	// context.Background. done is called before the callers' Adds return.
	// Set it before the first Add.
	FlushContext func(callers []context.Context) (context.Context, func())

	queued  func()                               // test hook (export_test.go): told after each addition is queued
	waiting func()                               // test hook: told when the loop waits for a busy flusher
	after   func(time.Duration) <-chan time.Time // the timer of a batch's wait; time.After by default
	now     func() time.Time                     // the clock that times commits; time.Now by default
}

type call struct {
	ctx  context.Context
	add  idemsum.Addition
	res  idemsum.Result
	err  error
	done chan struct{}
}

// New starts an Adder over l with batches of at most maxSize additions
// (up to 16× that while commits are slow, unless Fixed), waiting maxWait
// to fill one (longer while commits run back to back, unless Fixed), and
// at most flushers batches in flight at once.
func New(l idemsum.Ledger, maxSize int, maxWait time.Duration, flushers int) *Adder {
	a := &Adder{
		ledger:  l,
		maxSize: max(1, maxSize),
		maxWait: maxWait,
		in:      make(chan *call, 4*growth*max(1, maxSize)*max(1, flushers)),
		slots:   make(chan struct{}, max(1, flushers)),
		stopped: make(chan struct{}),
		after:   time.After,
		now:     time.Now,
	}
	go a.loop()
	return a
}

// Add queues x and returns its Result once its batch has committed; a
// number out of range is refused at once (idemsum.CheckNumber), and after
// Close every Add fails at once with code idemsum.EUNAVAILABLE (nothing
// was added). Otherwise its error is its batch's Ledger.Add error, whose
// code is EUNAVAILABLE only when nothing of the batch committed. It
// waits for the batch even when ctx is cancelled, because the batch runs
// on regardless: returning early would only turn a known outcome into an
// unknown one.
func (a *Adder) Add(ctx context.Context, x idemsum.Addition) (idemsum.Result, error) {
	if err := idemsum.CheckNumber(x.Number); err != nil {
		return idemsum.Result{}, err // refused alone, never failing its batch
	}
	c := &call{ctx: ctx, add: x, done: make(chan struct{})}
	a.mu.RLock()
	if a.closed {
		a.mu.RUnlock()
		return idemsum.Result{}, idemsum.Errorf(idemsum.EUNAVAILABLE, "shutting down; nothing was added")
	}
	a.in <- c
	a.mu.RUnlock()
	if a.queued != nil {
		a.queued()
	}
	<-c.done
	return c.res, c.err
}

// Close stops accepting additions, flushes what is queued and waits for
// every batch in flight.
func (a *Adder) Close() {
	a.mu.Lock()
	if !a.closed {
		a.closed = true
		close(a.in)
	}
	a.mu.Unlock()
	<-a.stopped
}

func (a *Adder) loop() {
	defer close(a.stopped)
	var next *call // an addition the last batch had no room for
	for {
		c := next
		if c == nil {
			var ok bool
			if c, ok = <-a.in; !ok {
				break
			}
		}
		mode := idle
		select {
		case a.slots <- struct{}{}:
			if a.recent() {
				mode = returning
			}
		default: // every flusher busy: commits run back to back
			mode = busy
			if a.waiting != nil {
				a.waiting()
			}
			a.slots <- struct{}{}
		}
		var calls []*call
		calls, next = a.gather(c, a.shape(mode))
		go a.flush(calls, mode != idle)
	}
	for i := 0; i < cap(a.slots); i++ {
		a.slots <- struct{}{}
	}
}

// shape is what the next batch may be: at most size additions and bytes
// bytes of keys, and how long it waits to fill when it is not full; with
// a wait, it stops waiting once it has enough.
type shape struct {
	size   int
	bytes  int
	wait   time.Duration
	enough int
}

// What the flushers were doing when a batch began to form.
const (
	idle      = iota // a flusher free, and no batch of several just ended
	busy             // every flusher busy: commits run back to back
	returning        // a flusher free, but a batch of several ended less than its commit time ago: its callers are coming back
)

// recent reports whether the last batch, formed under load (busy or
// returning), had several additions and ended less than its commit's
// time ago. A batch formed idle counts as one: two requests that met by
// chance at a low rate are no reason to make the next one wait.
func (a *Adder) recent() bool {
	if a.lastSize.Load() < 2 {
		return false
	}
	last := time.Duration(a.lastCommit.Load())
	return a.now().Sub(time.Unix(0, a.lastEnd.Load())) < last
}

// shape returns the next batch's shape. A Fixed Adder keeps New's. Else
// the limit grows with the last commit's time, 1× MaxSize per
// SlowCommit, up to growth× (commits slow: a distant replica, a busy
// disk or the row lock held by other instances); and a batch that forms
// while commits run back to back (busy, or returning) waits up to
// WaitShare of the last commit, at most MaxAdaptWait, until it has
// enough: what was queued and the callers of the last batch, who come
// back once answered. So back-to-back commits carry fuller batches, and
// the first caller back from a batch does not go alone. An idle Adder
// flushes what is queued at once, as fast as ever.
func (a *Adder) shape(mode int) shape {
	sh := shape{size: a.maxSize, bytes: MaxBatchBytes, wait: a.maxWait}
	if a.Fixed {
		return sh
	}
	last := time.Duration(a.lastCommit.Load())
	sh.size = a.maxSize * min(growth, max(1, int(last/SlowCommit)))
	if mode == idle || a.lastSize.Load() < 2 {
		return sh // no load yet: a batch of one in flight is no reason to wait
	}
	sh.wait = max(sh.wait, min(MaxAdaptWait, time.Duration(float64(last)*WaitShare)))
	if a.maxWait > 0 {
		return sh // an explicit -batch-wait is waited in full, as before
	}
	sh.enough = int(a.lastSize.Load()) + len(a.in)
	if mode == busy {
		sh.enough++ // the first, queued during the last commit, was not one of its callers
	}
	sh.enough = min(sh.size, sh.enough)
	return sh
}

// The bounds of adaptation (docs/design.md#group-commit).
const (
	// SlowCommit is the commit time per which the batch limit grows by
	// one MaxSize.
	SlowCommit = 5 * time.Millisecond
	// growth bounds the batch limit at growth × MaxSize.
	growth = 16
	// MaxBatchBytes bounds the keys and clients of one batch (its
	// statement carries each twice), far below MySQL's and MariaDB's
	// default max_allowed_packet (64 MiB, 16 MiB).
	MaxBatchBytes = 1 << 20
	// WaitShare is the share of the last commit's time that a batch
	// formed while commits run back to back waits for more.
	WaitShare = 0.5
	// MaxAdaptWait bounds that wait whatever the commit time. Behind a
	// semi-synchronous replica 20 ms away (commits of ~45 ms) the callers
	// of the last batch need 20–40 ms to come back through HTTP; at a
	// 10 ms bound the connections split into two halves that alternate,
	// and each waits a whole commit between its additions
	// (docs/scaling.md).
	MaxAdaptWait = 50 * time.Millisecond
)

// size is what an addition adds to its batch's bytes: its client and key,
// and the rest of its row, roughly.
func size(c *call) int { return len(c.add.Client) + len(c.add.Key) + 64 }

// gather takes first and whatever else is queued, within sh, waiting up
// to sh.wait for more when the batch is not full. An addition that would
// pass sh.bytes is returned as next, to start the next batch (a batch
// takes at least one).
func (a *Adder) gather(first *call, sh shape) (calls []*call, next *call) {
	calls, bytes := []*call{first}, size(first)
	var timeout <-chan time.Time
	if sh.wait > 0 {
		timeout = a.after(sh.wait)
	}
	for len(calls) < sh.size {
		var c *call
		var ok bool
		select {
		case c, ok = <-a.in:
		default:
			if timeout == nil || (sh.enough > 0 && len(calls) >= sh.enough) {
				return calls, nil
			}
			select {
			case c, ok = <-a.in:
			case <-timeout:
				return calls, nil
			}
		}
		if !ok {
			return calls, nil
		}
		if bytes += size(c); bytes > sh.bytes {
			return calls, c
		}
		calls = append(calls, c)
	}
	return calls, nil
}

// flush commits calls as one Ledger.Add, frees its flusher and wakes its
// callers, in that order: a caller that sends its next addition at once
// finds the Adder idle, not busy.
func (a *Adder) flush(calls []*call, underLoad bool) {
	adds := make([]idemsum.Addition, len(calls))
	for i, c := range calls {
		adds[i] = c.add
	}
	a.Metrics.flushed(len(adds))
	ctx, done := context.Background(), func() {}
	if a.FlushContext != nil {
		ctxs := make([]context.Context, len(calls))
		for i, c := range calls {
			ctxs[i] = c.ctx
		}
		ctx, done = a.FlushContext(ctxs)
	}
	start := a.now()
	res, err := a.ledger.Add(ctx, adds)
	end := a.now()
	a.lastCommit.Store(int64(end.Sub(start)))
	if underLoad {
		a.lastSize.Store(int64(len(calls)))
	} else {
		a.lastSize.Store(1) // formed idle: its callers are no reason to wait
	}
	a.lastEnd.Store(end.UnixNano())
	done() // before the callers wake
	<-a.slots
	for i, c := range calls {
		if err != nil {
			c.err = err
		} else {
			c.res = res[i]
		}
		close(c.done)
	}
}
