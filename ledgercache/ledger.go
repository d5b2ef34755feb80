package ledgercache

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/idemsum/idemsum"
	"github.com/idemsum/idemsum/idempotency"
)

// Ledger is an idemsum.Ledger that answers keys recorded already from
// Store and hands the rest to Ledger, caching their records afterwards.
// Set its fields before its first use; it is then safe for concurrent use.
type Ledger struct {
	Ledger idemsum.Ledger         // the fence: MySQL
	Store  idempotency.BatchStore // nil: every batch goes to Ledger alone
	// TTL is how long a key is remembered (the key TTL): a record is kept
	// until its Created time plus TTL, never longer, so that it never
	// outlives the ledger's row, which is kept at least that long.
	TTL     time.Duration
	Timeout time.Duration // bound on one round trip to Store; 0 means 1s
	Backoff time.Duration // how long Store is bypassed after it failed; 0 means 1s
	// OnError, when set, is told of each failure of Store ("get" or
	// "put").
	OnError func(op string, err error)
	Metrics *Metrics         // nil counts nothing
	Now     func() time.Time // nil means time.Now

	downUntil atomic.Int64 // unix nanoseconds; Store bypassed before then
	storing   sync.WaitGroup
	busy      atomic.Int32 // stores in flight in the background
}

// maxStoring bounds the stores of batches' records in flight in the
// background; a batch that finds them all busy stores its own before Add
// returns, which slows the batches down to what the Store can take.
const maxStoring = 4

// Add implements idemsum.Ledger. The keys of adds that Store holds a
// record of, for the same number, are answered from it as Existing
// results; the other additions go to Ledger in one call, in their order,
// and the records of its results are stored after Add returns, in the
// background (Wait waits for them), so that the next batch does not wait
// for Store: a retry that comes before its record is stored is answered by
// Ledger, as after a Redis flush. Ledger's error is returned as
// it is: nothing of adds was committed by this call, or its outcome is
// unknown. Store's failures change no answer.
func (l *Ledger) Add(ctx context.Context, adds []idemsum.Addition) ([]idemsum.Result, error) {
	if !l.Available() {
		return l.Ledger.Add(ctx, adds)
	}
	res := make([]idemsum.Result, len(adds))
	cached, lead := l.lookUp(ctx, adds, res)
	rest := make([]idemsum.Addition, 0, len(adds))
	for i, a := range adds {
		if !cached[i] {
			rest = append(rest, a)
		}
	}
	if len(rest) == 0 {
		return res, nil
	}
	out, err := l.Ledger.Add(ctx, rest)
	if err != nil {
		return nil, err
	}
	items := make([]idempotency.Item, 0, len(rest))
	now := l.now()
	j := 0
	for i := range adds {
		if cached[i] {
			continue
		}
		r, a := out[j], rest[j]
		res[i] = r
		j++
		if !lead[i] { // keyless, or a key repeated in the batch: its first stores it
			continue
		}
		if ttl := ttlOf(r.Created, now, l.ttl()); ttl > 0 && !r.Created.IsZero() {
			items = append(items, idempotency.Item{Key: idempotency.ScopedKey(a.Client, a.Key), Record: Record(r), TTL: ttl})
		}
	}
	l.storeLater(ctx, items)
	return res, nil
}

// lookUp fills res[i] for each keyed addition whose key Store holds a
// record of, for the same number, and reports which it filled (cached),
// and which additions are the first of their key in adds (lead). A key
// that appears more than once in adds is answered, or not, as a whole.
func (l *Ledger) lookUp(ctx context.Context, adds []idemsum.Addition, res []idemsum.Result) (cached, lead []bool) {
	cached, lead = make([]bool, len(adds)), make([]bool, len(adds))
	first := make(map[idemsum.KeyID]int, len(adds)) // key → index in keys
	var keys []string
	var at []int // index in adds of each key's first addition
	for i, a := range adds {
		if a.Key == "" {
			continue
		}
		if _, ok := first[a.ID()]; !ok {
			lead[i] = true
			first[a.ID()] = len(keys)
			keys = append(keys, idempotency.ScopedKey(a.Client, a.Key))
			at = append(at, i)
		}
	}
	if len(keys) == 0 {
		return cached, lead
	}
	ctx, cancel := l.bounded(ctx)
	defer cancel()
	recs, found, err := l.Store.GetMany(ctx, keys)
	if err != nil {
		l.failed(ctx, "get", err)
		l.Metrics.looked(0, len(keys))
		return cached, lead
	}
	hit := make([]bool, len(keys))
	hits := 0
	for k := range keys {
		if !found[k] {
			continue
		}
		if r, ok := resultOf(adds[at[k]], recs[k]); ok {
			res[at[k]], cached[at[k]], hit[k] = r, true, true
			hits++
		}
	}
	for i, a := range adds { // later additions of a key answered from its record
		if k, ok := first[a.ID()]; ok && a.Key != "" && hit[k] && !cached[i] {
			res[i], cached[i] = res[at[k]], true
		}
	}
	l.Metrics.looked(hits, len(keys)-hits)
	return cached, lead
}

// storeLater caches items in one round trip in the background, or now when
// maxStoring stores are in flight already.
func (l *Ledger) storeLater(ctx context.Context, items []idempotency.Item) {
	if len(items) == 0 || !l.Available() {
		return
	}
	if l.busy.Add(1) > maxStoring {
		l.busy.Add(-1)
		l.store(ctx, items)
		return
	}
	l.storing.Add(1)
	go func() {
		defer l.storing.Done()
		defer l.busy.Add(-1)
		l.store(ctx, items)
	}()
}

// Wait returns once the records of every Add that has returned are stored
// (or their store failed): call it after the last Add, before exiting.
func (l *Ledger) Wait() { l.storing.Wait() }

// store caches items in one round trip.
func (l *Ledger) store(ctx context.Context, items []idempotency.Item) {
	ctx, cancel := l.bounded(ctx)
	defer cancel()
	err := l.Store.PutMany(ctx, items)
	l.failed(ctx, "put", err)
	if err == nil {
		l.Metrics.stored(len(items))
	}
}

// Total implements idemsum.Ledger: always Ledger's, never cached.
func (l *Ledger) Total(ctx context.Context) (string, error) { return l.Ledger.Total(ctx) }

// Available reports whether Add uses Store now.
func (l *Ledger) Available() bool {
	return l.Store != nil && l.now().UnixNano() >= l.downUntil.Load()
}

// bounded is ctx without its cancellation (a batch serves many callers)
// and with the Timeout.
func (l *Ledger) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), orDefault(l.Timeout, time.Second))
}

// failed bypasses Store for Backoff after a failure and tells OnError.
func (l *Ledger) failed(ctx context.Context, op string, err error) {
	if err == nil {
		return
	}
	l.downUntil.Store(l.now().Add(orDefault(l.Backoff, time.Second)).UnixNano())
	if l.OnError != nil {
		l.OnError(op, err)
	}
}

func (l *Ledger) ttl() time.Duration { return orDefault(l.TTL, idempotency.DefaultTTL) }

func (l *Ledger) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
