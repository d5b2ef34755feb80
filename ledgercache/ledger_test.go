package ledgercache_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/idemsum/idemsum"
	"github.com/idemsum/idemsum/idempotency"
	"github.com/idemsum/idemsum/idemsumtest"
	"github.com/idemsum/idemsum/ledgercache"
)

// newMemLedger returns an in-memory Ledger whose clock reads *clock.
func newMemLedger(clock *time.Time) *idemsumtest.Ledger {
	return &idemsumtest.Ledger{Now: func() time.Time { return *clock }}
}

// record adds a to l at created, as an earlier batch would have.
func record(t *testing.T, l *idemsumtest.Ledger, clock *time.Time, created time.Time, a idemsum.Addition) {
	t.Helper()
	saved := *clock
	*clock = created
	defer func() { *clock = saved }()
	if _, err := l.Add(t.Context(), []idemsum.Addition{a}); err != nil {
		t.Fatal(err)
	}
}

// memStore is an idempotency.BatchStore in memory.
type memStore struct {
	mu   sync.Mutex
	recs map[string]idempotency.Record
	ttls map[string]time.Duration
	gets [][]string
	puts int
	err  error
}

func newMemStore() *memStore {
	return &memStore{recs: map[string]idempotency.Record{}, ttls: map[string]time.Duration{}}
}

func (s *memStore) GetMany(_ context.Context, keys []string) ([]idempotency.Record, []bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gets = append(s.gets, slices.Clone(keys))
	if s.err != nil {
		return nil, nil, s.err
	}
	recs, found := make([]idempotency.Record, len(keys)), make([]bool, len(keys))
	for i, k := range keys {
		recs[i], found[i] = s.recs[k]
	}
	return recs, found, nil
}

func (s *memStore) PutMany(_ context.Context, items []idempotency.Item) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.puts++
	if s.err != nil {
		return s.err
	}
	for _, it := range items {
		if _, ok := s.recs[it.Key]; !ok {
			s.recs[it.Key], s.ttls[it.Key] = it.Record, it.TTL
		}
	}
	return nil
}

var t0 = time.UnixMilli(1_800_000_000_000)

// now is the clock of newMemLedger in the tests that do not move it.
func now() *time.Time { t := t0; return &t }

func add(client, key string, n uint64) idemsum.Addition {
	return idemsum.Addition{Client: client, Key: key, Number: n}
}

func TestHitsSkipTheLedger(t *testing.T) {
	clock := now()
	ml, st := newMemLedger(clock), newMemStore()
	l := &ledgercache.Ledger{Ledger: ml, Store: st, TTL: time.Hour, Now: func() time.Time { return t0 }}
	first := []idemsum.Addition{add("", "a", 1), add("alice", "a", 2), add("", "", 3), add("", "b", 4)}
	res, err := l.Add(t.Context(), first)
	if err != nil {
		t.Fatal(err)
	}
	l.Wait()
	if got := []string{res[0].Total, res[1].Total, res[2].Total, res[3].Total}; !slices.Equal(got, []string{"1", "3", "6", "10"}) {
		t.Fatalf("totals %v, want 1 3 6 10", got)
	}
	if len(st.recs) != 3 {
		t.Fatalf("cached %d records, want 3 (the keyed additions)", len(st.recs))
	}
	for k, ttl := range st.ttls {
		if ttl != time.Hour {
			t.Errorf("record %q cached for %v, want the key TTL", k, ttl)
		}
	}
	// The same keys again, with a fresh one and a keyless one between.
	again := []idemsum.Addition{add("alice", "a", 2), add("", "c", 5), add("", "a", 1), add("", "", 6), add("", "b", 4), add("", "a", 1)}
	res, err = l.Add(t.Context(), again)
	if err != nil {
		t.Fatal(err)
	}
	if sent := ml.Batches()[len(ml.Batches())-1]; !slices.Equal(sent, []idemsum.Addition{add("", "c", 5), add("", "", 6)}) {
		t.Fatalf("the ledger was sent %v, want only the fresh key and the keyless addition", sent)
	}
	want := []idemsum.Result{
		{Total: "3", Number: 2, Existing: true, Created: t0},
		{Total: "15", Number: 5, Created: t0},
		{Total: "1", Number: 1, Existing: true, Created: t0},
		{Total: "21", Number: 6, Created: t0},
		{Total: "10", Number: 4, Existing: true, Created: t0},
		{Total: "1", Number: 1, Existing: true, Created: t0},
	}
	for i := range want {
		if !res[i].Created.Equal(want[i].Created) || res[i].Total != want[i].Total || res[i].Number != want[i].Number || res[i].Existing != want[i].Existing {
			t.Errorf("result %d = %+v, want %+v", i, res[i], want[i])
		}
	}
	if g := st.gets[len(st.gets)-1]; len(g) != 4 {
		t.Errorf("looked up %v, want each of the 4 distinct keys once", g)
	}
}

func TestAllHitsSendNothing(t *testing.T) {
	clock := now()
	ml, st := newMemLedger(clock), newMemStore()
	l := &ledgercache.Ledger{Ledger: ml, Store: st, TTL: time.Hour, Now: func() time.Time { return t0 }}
	if _, err := l.Add(t.Context(), []idemsum.Addition{add("", "x", 7)}); err != nil {
		t.Fatal(err)
	}
	l.Wait()
	res, err := l.Add(t.Context(), []idemsum.Addition{add("", "x", 7), add("", "x", 7)})
	if err != nil || len(ml.Batches()) != 1 || !res[0].Existing || !res[1].Existing || res[1].Total != "7" {
		t.Fatalf("replays: %+v %v, ledger calls %d; want two Existing results and no second call", res, err, len(ml.Batches()))
	}
	if st.puts != 1 {
		t.Errorf("%d stores, want none for a batch of hits", st.puts)
	}
}

// A record that is not exactly the record of an addition of the request's
// number is left to the ledger, which answers with what it holds.
func TestRecordsTheLedgerMustAnswer(t *testing.T) {
	good := ledgercache.Record(idemsum.Result{Total: "9", Number: 9, Created: t0})
	tests := map[string]func(r *idempotency.Record){
		"another number":       func(r *idempotency.Record) { r.Fingerprint = ledgercache.Fingerprint(8) },
		"another status":       func(r *idempotency.Record) { r.Status = 201 },
		"another content type": func(r *idempotency.Record) { r.ContentType = "text/plain" },
		"a header":             func(r *idempotency.Record) { r.Header = map[string][]string{"Location": {"/x"}} },
		"no created time":      func(r *idempotency.Record) { r.Created = time.Time{} },
		"not a total":          func(r *idempotency.Record) { r.Body = []byte(`{"total":"9"}` + "\n") },
		"a negative total":     func(r *idempotency.Record) { r.Body = []byte(`{"total":-9}` + "\n") },
		"a leading zero":       func(r *idempotency.Record) { r.Body = []byte(`{"total":09}` + "\n") },
		"no newline":           func(r *idempotency.Record) { r.Body = []byte(`{"total":9}`) },
		"more after":           func(r *idempotency.Record) { r.Body = []byte(`{"total":9,"x":1}` + "\n") },
		"empty total":          func(r *idempotency.Record) { r.Body = []byte(`{"total":}` + "\n") },
	}
	for name, change := range tests {
		t.Run(name, func(t *testing.T) {
			clock := now()
			ml, st := newMemLedger(clock), newMemStore()
			record(t, ml, clock, t0, add("", "k", 9))
			rec := good
			change(&rec)
			st.recs[idempotency.ScopedKey("", "k")] = rec
			l := &ledgercache.Ledger{Ledger: ml, Store: st, TTL: time.Hour, Now: func() time.Time { return t0 }}
			res, err := l.Add(t.Context(), []idemsum.Addition{add("", "k", 9)})
			if err != nil || len(ml.Batches()) != 2 || !res[0].Existing || res[0].Total != "9" {
				t.Fatalf("got %+v %v after %d ledger calls; want the ledger's Existing answer (2 calls: its record, then this)", res, err, len(ml.Batches()))
			}
		})
	}
	t.Run("the genuine record", func(t *testing.T) {
		clock := now()
		ml, st := newMemLedger(clock), newMemStore()
		st.recs[idempotency.ScopedKey("", "k")] = good
		l := &ledgercache.Ledger{Ledger: ml, Store: st, TTL: time.Hour, Now: func() time.Time { return t0 }}
		res, err := l.Add(t.Context(), []idemsum.Addition{add("", "k", 9)})
		if err != nil || len(ml.Batches()) != 0 || !res[0].Existing || res[0].Total != "9" {
			t.Fatalf("got %+v %v after %d ledger calls; want the cached answer and no call", res, err, len(ml.Batches()))
		}
	})
}

// A record is cached only until its key's Created time plus the TTL: never
// longer than the ledger's row lives.
func TestCachedUntilCreatedPlusTTL(t *testing.T) {
	clock := now()
	ml, st := newMemLedger(clock), newMemStore()
	record(t, ml, clock, t0.Add(-61*time.Minute), add("", "gone", 5))
	record(t, ml, clock, t0.Add(-50*time.Minute), add("", "old", 4))
	l := &ledgercache.Ledger{Ledger: ml, Store: st, TTL: time.Hour, Now: func() time.Time { return t0 }}
	if _, err := l.Add(t.Context(), []idemsum.Addition{add("", "old", 4), add("", "gone", 5), add("", "new", 1)}); err != nil {
		t.Fatal(err)
	}
	l.Wait()
	want := map[string]time.Duration{"old": 10 * time.Minute, "new": time.Hour}
	if len(st.ttls) != len(want) {
		t.Fatalf("cached %v, want %v (a record past its TTL is not cached)", st.ttls, want)
	}
	for k, ttl := range want {
		if got := st.ttls[idempotency.ScopedKey("", k)]; got != ttl {
			t.Errorf("%s cached for %v, want %v", k, got, ttl)
		}
	}
}

func TestStoreFailureBypassesTheStore(t *testing.T) {
	clock := now()
	ml, st := newMemLedger(clock), newMemStore()
	var ops []string
	l := &ledgercache.Ledger{Ledger: ml, Store: st, TTL: time.Hour, Backoff: time.Second,
		Now: func() time.Time { return *clock }, OnError: func(op string, _ error) { ops = append(ops, op) }}
	st.err = errors.New("connection refused")
	res, err := l.Add(t.Context(), []idemsum.Addition{add("", "a", 1), add("", "b", 2)})
	if err != nil || res[1].Total != "3" {
		t.Fatalf("with the store down: %+v %v, want the ledger's answer", res, err)
	}
	if !slices.Equal(ops, []string{"get"}) || l.Available() {
		t.Fatalf("errors told %v, available %v; want [get] and the store bypassed", ops, l.Available())
	}
	if _, err := l.Add(t.Context(), []idemsum.Addition{add("", "a", 1)}); err != nil || len(st.gets) != 1 {
		t.Fatalf("during the backoff: %v, %d look-ups; want the ledger alone", err, len(st.gets))
	}
	*clock = clock.Add(time.Second)
	st.err = nil
	if !l.Available() {
		t.Fatal("the store is still bypassed after the backoff")
	}
	res, err = l.Add(t.Context(), []idemsum.Addition{add("", "a", 1)})
	if err != nil || !res[0].Existing || len(ml.Batches()) != 3 || len(st.gets) != 2 {
		t.Fatalf("after the backoff: %+v %v; want a look-up (a miss, never stored) and the ledger's Existing answer", res, err)
	}
	l.Wait()
	if _, err := l.Add(t.Context(), []idemsum.Addition{add("", "a", 1)}); err != nil || len(ml.Batches()) != 3 {
		t.Fatalf("the record stored after the backoff was not used: %v, %d ledger calls", err, len(ml.Batches()))
	}
}

func TestLedgerErrorIsReturned(t *testing.T) {
	clock := now()
	ml, st := newMemLedger(clock), newMemStore()
	ml.SetErr(idemsum.Unavailable(errors.New("mysql down")))
	l := &ledgercache.Ledger{Ledger: ml, Store: st, TTL: time.Hour}
	_, err := l.Add(t.Context(), []idemsum.Addition{add("", "a", 1)})
	l.Wait()
	if idemsum.ErrorCode(err) != idemsum.EUNAVAILABLE {
		t.Fatalf("error %v, want the ledger's EUNAVAILABLE", err)
	}
	if st.puts != 0 || len(st.recs) != 0 {
		t.Fatal("a record was cached for a batch that failed")
	}
}

func TestNoStoreIsTheLedger(t *testing.T) {
	ml := newMemLedger(now())
	l := &ledgercache.Ledger{Ledger: ml}
	res, err := l.Add(t.Context(), []idemsum.Addition{add("", "a", 1), add("", "a", 1)})
	if err != nil || len(ml.Batches()) != 1 || !res[1].Existing || l.Available() {
		t.Fatalf("%+v %v", res, err)
	}
	if total, _ := l.Total(t.Context()); total != "1" {
		t.Fatalf("total %s, want the ledger's 1", total)
	}
}
