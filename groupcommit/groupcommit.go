// Package groupcommit is group commit: it gathers concurrent additions on one
// instance into one Ledger.Add, so that the hot total row and the log
// flush are paid once per batch rather than once per request.
package groupcommit

import (
	"context"
	"sync"
	"time"

	"github.com/idemsum/idemsum"
)

// Adder is an idemsum.Adder that shares Ledger.Add among concurrent
// callers. While all Flushers are busy, additions queue up and leave as one
// batch of at most MaxSize when a flusher frees up; a batch that is not
// full waits at most MaxWait for more. Each caller gets its own Result
// (the total right after its own addition). Adder is safe for concurrent
// use; Close stops it after the queued additions are flushed.
type Adder struct {
	ledger  idemsum.Ledger
	maxSize int
	maxWait time.Duration
	in      chan *call
	slots   chan struct{}
	stopped chan struct{}
	mu      sync.RWMutex // guards closed against sends on a closed in
	closed  bool
	// Metrics, when set, count the size of each batch. Set it before the
	// first Add.
	Metrics *Metrics
	// FlushContext, when set, returns the context of a batch's Ledger.Add
	// from the contexts of its callers' Adds (for tracing), and a func
	// called once the batch is done; by default the batch runs on
	// context.Background. done is called before the callers' Adds return.
	// Set it before the first Add.
	FlushContext func(callers []context.Context) (context.Context, func())

	queued func() // test hook (export_test.go): told after each addition is queued
}

type call struct {
	ctx  context.Context
	add  idemsum.Addition
	res  idemsum.Result
	err  error
	done chan struct{}
}

// New starts an Adder over l with batches of at most maxSize additions,
// waiting at most maxWait to fill one, and at most flushers batches in
// flight at once.
func New(l idemsum.Ledger, maxSize int, maxWait time.Duration, flushers int) *Adder {
	a := &Adder{
		ledger:  l,
		maxSize: max(1, maxSize),
		maxWait: maxWait,
		in:      make(chan *call, 4*max(1, maxSize)*max(1, flushers)),
		slots:   make(chan struct{}, max(1, flushers)),
		stopped: make(chan struct{}),
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
	for c := range a.in {
		a.slots <- struct{}{}
		calls := a.gather(c)
		go a.flush(calls)
	}
	for i := 0; i < cap(a.slots); i++ {
		a.slots <- struct{}{}
	}
}

// gather takes first and whatever else is queued, up to maxSize, waiting
// up to maxWait for more when the batch is not full.
func (a *Adder) gather(first *call) []*call {
	calls := []*call{first}
	var timeout <-chan time.Time
	if a.maxWait > 0 {
		t := time.NewTimer(a.maxWait)
		defer t.Stop()
		timeout = t.C
	}
	for len(calls) < a.maxSize {
		select {
		case c, ok := <-a.in:
			if !ok {
				return calls
			}
			calls = append(calls, c)
			continue
		default:
		}
		if timeout == nil {
			return calls
		}
		select {
		case c, ok := <-a.in:
			if !ok {
				return calls
			}
			calls = append(calls, c)
		case <-timeout:
			return calls
		}
	}
	return calls
}

// flush commits calls as one Ledger.Add and wakes their callers.
func (a *Adder) flush(calls []*call) {
	defer func() { <-a.slots }()
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
	res, err := a.ledger.Add(ctx, adds)
	done() // before the callers wake
	for i, c := range calls {
		if err != nil {
			c.err = err
		} else {
			c.res = res[i]
		}
		close(c.done)
	}
}
