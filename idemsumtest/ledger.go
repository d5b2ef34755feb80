package idemsumtest

import (
	"context"
	"math/big"
	"slices"
	"sync"
	"time"

	"github.com/idemsum/idemsum"
)

// Ledger is an in-memory idemsum.Ledger with the MySQL Ledger's semantics:
// Adds commit in one serial order, each batch at once; a key is recorded
// once, and a key already recorded, or repeated earlier in the same batch,
// yields an Existing Result with its first addition's Number, Total and
// Created; keyless additions always add; totals are exact decimal strings
// of any size.
//
// The zero Ledger is empty (total 0, no key) and ready to use. Set its
// fields before its first use and do not change them after. Its methods
// are safe for concurrent use.
type Ledger struct {
	// Now is the clock stamped on the additions of each Add as Created;
	// nil means time.Now. Created carries no monotonic clock reading.
	Now func() time.Time

	// Entered, when not nil, is sent a value without blocking each time
	// Add is entered, before Gate: make it buffered, or be receiving, to
	// learn that an Add has started.
	Entered chan struct{}

	// Gate, when not nil, holds each Add back, before it commits or fails,
	// until Add receives from it: each value lets one Add through, and
	// closing Gate lets every Add through. Add waits even when its context
	// is cancelled, as the MySQL Ledger's batches run on regardless.
	Gate chan struct{}

	mu      sync.Mutex
	total   big.Int
	keys    map[idemsum.KeyID]idemsum.Result
	batches [][]idemsum.Addition
	reads   int
	err     error
}

var _ idemsum.Ledger = (*Ledger)(nil)

// Add implements idemsum.Ledger. After Entered and Gate, it records adds
// (see Batches), and then fails with the error of SetErr, changing
// nothing, or commits them, stamped with one Now. It ignores ctx.
func (l *Ledger) Add(_ context.Context, adds []idemsum.Addition) ([]idemsum.Result, error) {
	if l.Entered != nil {
		select {
		case l.Entered <- struct{}{}:
		default:
		}
	}
	if l.Gate != nil {
		<-l.Gate
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.batches = append(l.batches, slices.Clone(adds))
	if l.err != nil {
		return nil, l.err
	}
	now := l.now()
	res := make([]idemsum.Result, len(adds))
	for i, a := range adds {
		if r, ok := l.keys[a.ID()]; ok && a.Key != "" {
			r.Existing = true
			res[i] = r
			continue
		}
		l.total.Add(&l.total, new(big.Int).SetUint64(a.Number))
		res[i] = idemsum.Result{Total: l.total.String(), Number: a.Number, Created: now}
		if a.Key != "" {
			if l.keys == nil {
				l.keys = map[idemsum.KeyID]idemsum.Result{}
			}
			l.keys[a.ID()] = res[i]
		}
	}
	return res, nil
}

// Total implements idemsum.Ledger. It counts the call (see Reads), and
// then fails with the error of SetErr or returns the total.
func (l *Ledger) Total(context.Context) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reads++
	if l.err != nil {
		return "", l.err
	}
	return l.total.String(), nil
}

// SetErr makes every later Add and Total fail with err, before changing
// anything, until SetErr(nil): the Ledger then holds what it held before.
func (l *Ledger) SetErr(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.err = err
}

// Batches returns a copy of the additions of every Add so far, one slice
// per call, in the order they committed or failed. Their lengths are the
// batch sizes.
func (l *Ledger) Batches() [][]idemsum.Addition {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([][]idemsum.Addition, len(l.batches))
	for i, b := range l.batches {
		out[i] = slices.Clone(b)
	}
	return out
}

// Reads returns how many times Total was called.
func (l *Ledger) Reads() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reads
}

func (l *Ledger) now() time.Time {
	if l.Now != nil {
		return l.Now().Round(0)
	}
	return time.Now().Round(0)
}
