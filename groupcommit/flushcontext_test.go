package groupcommit_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/idemsum/idemsum"
	"github.com/idemsum/idemsum/groupcommit"
	"github.com/idemsum/idemsum/idemsumtest"
)

type ctxKey struct{}

// ctxLedger is the in-memory Ledger that keeps the ctx value of each
// batch.
type ctxLedger struct {
	idemsumtest.Ledger
	mu   sync.Mutex
	seen []any
}

func (l *ctxLedger) Add(ctx context.Context, adds []idemsum.Addition) ([]idemsum.Result, error) {
	l.mu.Lock()
	l.seen = append(l.seen, ctx.Value(ctxKey{}))
	l.mu.Unlock()
	return l.Ledger.Add(ctx, adds)
}

// TestFlushContext checks that FlushContext gets the context of every
// caller in the batch, that the Ledger runs under the context it returns,
// and that its done func is called once the batch is over.
func TestFlushContext(t *testing.T) {
	t.Parallel()
	l := &ctxLedger{}
	a := groupcommit.New(l, 8, 50*time.Millisecond, 1)
	defer a.Close()
	var mu sync.Mutex
	var callers []any
	dones := 0
	a.FlushContext = func(ctxs []context.Context) (context.Context, func()) {
		mu.Lock()
		for _, c := range ctxs {
			callers = append(callers, c.Value(ctxKey{}))
		}
		mu.Unlock()
		return context.WithValue(context.Background(), ctxKey{}, "batch"), func() { mu.Lock(); dones++; mu.Unlock() }
	}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			ctx := context.WithValue(t.Context(), ctxKey{}, i)
			if _, err := a.Add(ctx, idemsum.Addition{Number: 1}); err != nil {
				t.Errorf("Add: %v", err)
			}
		})
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(callers) != 4 || dones != len(l.seen) || dones == 0 {
		t.Errorf("got callers %v, %d done calls for %d batches; want the 4 callers and one done per batch", callers, dones, len(l.seen))
	}
	for _, v := range l.seen {
		if v != "batch" {
			t.Errorf("the Ledger ran under ctx value %v, want the FlushContext's", v)
		}
	}
}
