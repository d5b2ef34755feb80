package server_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/idemsum/idemsum"
	"github.com/idemsum/idemsum/idempotency"
	"github.com/idemsum/idemsum/server"
)

func TestFingerprint(t *testing.T) {
	t.Parallel()
	numbers := []uint64{1, 2, 5, 11, 12, 21, 112, idemsum.MaxNumber - 1, idemsum.MaxNumber}
	seen := map[string]uint64{}
	for _, n := range numbers {
		fp := server.Fingerprint(n)
		if fp == "" {
			t.Errorf("Fingerprint(%d): got empty, want a digest", n)
		}
		if again := server.Fingerprint(n); again != fp {
			t.Errorf("Fingerprint(%d) twice: got %q and %q, want equal", n, fp, again)
		}
		if m, ok := seen[fp]; ok {
			t.Errorf("Fingerprint(%d): got the fingerprint of %d, want distinct", n, m)
		}
		seen[fp] = n
	}
}

// mapStore is a minimal in-memory idempotency.Store without expiry.
type mapStore struct {
	mu     sync.Mutex
	recs   map[string]idempotency.Record
	claims map[string]bool
}

func newMapStore() *mapStore {
	return &mapStore{recs: map[string]idempotency.Record{}, claims: map[string]bool{}}
}

func (s *mapStore) Get(_ context.Context, key string) (idempotency.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recs[key]
	if !ok {
		return r, idempotency.ErrNotFound
	}
	return r, nil
}

func (s *mapStore) Claim(_ context.Context, key string, _ time.Duration) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.recs[key]; ok || s.claims[key] {
		return "", idempotency.ErrInFlight
	}
	s.claims[key] = true
	return key, nil
}

func (s *mapStore) Release(_ context.Context, key, token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.claims, key)
	return nil
}

func (s *mapStore) Put(_ context.Context, key string, rec idempotency.Record, _ time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.recs[key]; !ok {
		s.recs[key] = rec
	}
	return nil
}

func newService(l *fakeLedger, s idempotency.Store) *server.Service {
	return &server.Service{
		Adder:  idemsum.Unbatched(l),
		Ledger: l,
		Guard:  &idempotency.Guard{Store: s, Lease: time.Second, TTL: time.Hour},
	}
}

// storeCases run each Service test with the fence alone and with a cache.
var storeCases = []struct {
	name  string
	store func() idempotency.Store
}{
	{"no store", func() idempotency.Store { return nil }},
	{"store", func() idempotency.Store { return newMapStore() }},
}

func TestServiceAddKeyless(t *testing.T) {
	t.Parallel()
	l := newLedger()
	svc := newService(l, newMapStore())
	ctx := context.Background()
	for i, want := range []string{"{\"total\":5}\n", "{\"total\":10}\n", "{\"total\":15}\n"} {
		res, err := svc.Add(ctx, idemsum.Addition{Number: 5}, 0)
		if err != nil {
			t.Fatalf("add %d: got error %v, want nil", i, err)
		}
		assertRecord(t, res, want, false)
		if res.Fingerprint != server.Fingerprint(5) {
			t.Errorf("add %d fingerprint: got %q, want Fingerprint(5)", i, res.Fingerprint)
		}
	}
	calls, _ := l.seen()
	if len(calls) != 3 {
		t.Errorf("ledger calls: got %d, want 3", len(calls))
	}
	for _, c := range calls {
		if c != (idemsum.Addition{Number: 5}) {
			t.Errorf("addition: got %+v, want %+v", c, idemsum.Addition{Number: 5})
		}
	}
}

func assertRecord(tb testing.TB, res idempotency.Result, body string, replayed bool) {
	tb.Helper()
	if string(res.Body) != body {
		tb.Errorf("body: got %q, want %q", res.Body, body)
	}
	if res.Replayed != replayed {
		tb.Errorf("replayed: got %v, want %v", res.Replayed, replayed)
	}
	if res.Status != http.StatusOK {
		tb.Errorf("status: got %d, want %d", res.Status, http.StatusOK)
	}
	if res.ContentType != "application/json" {
		tb.Errorf("content type: got %q, want %q", res.ContentType, "application/json")
	}
}

func TestServiceAddKeyed(t *testing.T) {
	t.Parallel()
	for _, sc := range storeCases {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			l := newLedger()
			svc := newService(l, sc.store())
			ctx := context.Background()
			if _, err := svc.Add(ctx, idemsum.Addition{Number: 10}, 0); err != nil {
				t.Fatalf("keyless add: %v", err)
			}
			first, err := svc.Add(ctx, idemsum.Addition{Key: "K", Number: 5}, 0)
			if err != nil {
				t.Fatalf("first: got error %v, want nil", err)
			}
			assertRecord(t, first, "{\"total\":15}\n", false)
			if _, err := svc.Add(ctx, idemsum.Addition{Number: 100}, 0); err != nil {
				t.Fatalf("keyless add: %v", err)
			}
			again, err := svc.Add(ctx, idemsum.Addition{Key: "K", Number: 5}, 0)
			if err != nil {
				t.Fatalf("replay: got error %v, want nil", err)
			}
			assertRecord(t, again, string(first.Body), true)
			if _, err := svc.Add(ctx, idemsum.Addition{Key: "K", Number: 6}, 0); !errors.Is(err, idempotency.ErrMismatch) {
				t.Errorf("mismatch: got %v, want %v", err, idempotency.ErrMismatch)
			}
			other, err := svc.Add(ctx, idemsum.Addition{Key: "k", Number: 6}, 0)
			if err != nil {
				t.Fatalf("key differing in case: got error %v, want nil", err)
			}
			assertRecord(t, other, "{\"total\":121}\n", false)
			if got := l.sum(); got != "121" {
				t.Errorf("total: got %s, want 121", got)
			}
		})
	}
}

func TestServiceAddError(t *testing.T) {
	t.Parallel()
	errDown := errors.New("mysql down")
	for _, sc := range storeCases {
		for _, key := range []string{"", "K"} {
			t.Run(sc.name+"/key="+key, func(t *testing.T) {
				t.Parallel()
				l := newLedger()
				l.SetErr(errDown)
				svc := newService(l, sc.store())
				if _, err := svc.Add(context.Background(), idemsum.Addition{Key: key, Number: 5}, 0); !errors.Is(err, errDown) {
					t.Fatalf("add: got %v, want %v", err, errDown)
				}
				l.SetErr(nil)
				res, err := svc.Add(context.Background(), idemsum.Addition{Key: key, Number: 5}, 0)
				if err != nil {
					t.Fatalf("retry: got error %v, want nil", err)
				}
				assertRecord(t, res, "{\"total\":5}\n", false)
			})
		}
	}
}

func TestServiceAddInFlight(t *testing.T) {
	t.Parallel()
	s := newMapStore()
	s.claims["K"] = true // another request holds the key
	l := newLedger()
	svc := newService(l, s)
	if _, err := svc.Add(context.Background(), idemsum.Addition{Key: "K", Number: 5}, 0); !errors.Is(err, idempotency.ErrInFlight) {
		t.Errorf("add: got %v, want %v", err, idempotency.ErrInFlight)
	}
	if calls, _ := l.seen(); len(calls) != 0 {
		t.Errorf("ledger calls: got %v, want none", calls)
	}
}

func TestServiceTotal(t *testing.T) {
	t.Parallel()
	l := newLedger()
	svc := newService(l, nil)
	for _, n := range []uint64{idemsum.MaxNumber, idemsum.MaxNumber, idemsum.MaxNumber} {
		if _, err := svc.Add(context.Background(), idemsum.Addition{Number: n}, 0); err != nil {
			t.Fatalf("add: %v", err)
		}
	}
	got, err := svc.Total(context.Background())
	if want := "{\"total\":27670116110564327421}\n"; err != nil || string(got) != want {
		t.Errorf("Total: got %q, %v; want %q, nil", got, err, want)
	}
	errDown := errors.New("mysql down")
	l.SetErr(errDown)
	if _, err := svc.Total(context.Background()); !errors.Is(err, errDown) {
		t.Errorf("Total when down: got %v, want %v", err, errDown)
	}
}
