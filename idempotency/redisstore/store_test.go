package redisstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idemsum/idemsum/idempotency"
	"github.com/idemsum/idemsum/idempotency/idempotencytest"
	"github.com/idemsum/idemsum/idempotency/redisstore"
	"github.com/idemsum/idemsum/internal/testenv"
)

// space is the Redis key space of one Store under test, on one Redis or a
// cluster.
type space struct {
	c      redis.UniversalClient
	prefix string
}

func TestConformance(t *testing.T) {
	var spaces sync.Map // *redisstore.Store → space
	idempotencytest.TestStore(t, idempotencytest.Harness{
		New: func(t *testing.T) idempotency.Store {
			sp := newSpace(t)
			s := redisstore.New(sp.c, sp.prefix, secret)
			spaces.Store(s, sp)
			return s
		},
		Advance: func(t *testing.T, s idempotency.Store, d time.Duration) {
			sp, _ := spaces.Load(s)
			sp.(space).advance(t, d)
		},
	})
}

// newSpace returns a key space of tb's own on the test Redis and checks in
// Cleanup, before it is deleted, that every key in it has an expiry.
func newSpace(tb testing.TB) space {
	tb.Helper()
	c, prefix := testenv.Redis(tb)
	sp := space{c, prefix}
	tb.Cleanup(func() { sp.wantTTLs(tb) })
	return sp
}

// keys returns every key in sp with its PTTL.
func (sp space) keys(tb testing.TB) map[string]time.Duration {
	tb.Helper()
	ctx := context.Background()
	ttls := map[string]time.Duration{}
	for _, name := range scanAll(tb, sp.c, sp.prefix+"*") {
		ttl, err := sp.c.PTTL(ctx, name).Result()
		if err != nil {
			tb.Fatalf("PTTL %q: %v", name, err)
		}
		if ttl != -2*time.Nanosecond { // -2: expired since the scan
			ttls[name] = ttl
		}
	}
	return ttls
}

// scanAll returns the names matching match on c: on every master of a
// cluster.
func scanAll(tb testing.TB, c redis.UniversalClient, match string) []string {
	tb.Helper()
	ctx := context.Background()
	var mu sync.Mutex
	var names []string
	scan := func(ctx context.Context, c redis.UniversalClient) error {
		iter := c.Scan(ctx, 0, match, 1000).Iterator()
		for iter.Next(ctx) {
			mu.Lock()
			names = append(names, iter.Val())
			mu.Unlock()
		}
		return iter.Err()
	}
	var err error
	if cc, ok := c.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error { return scan(ctx, m) })
	} else {
		err = scan(ctx, c)
	}
	if err != nil {
		tb.Fatalf("SCAN %s: %v", match, err)
	}
	return names
}

// wantTTLs fails tb if a key in sp has no expiry (PTTL -1). A PTTL of 0
// is a key expiring within the millisecond.
func (sp space) wantTTLs(tb testing.TB) {
	tb.Helper()
	for key, ttl := range sp.keys(tb) {
		if ttl < 0 {
			tb.Errorf("key %q: got PTTL %v, want an expiry", key, ttl)
		}
	}
}

// advance makes d pass on the server for sp: each key's PTTL shrinks by d,
// and keys that would have expired are deleted.
func (sp space) advance(tb testing.TB, d time.Duration) {
	tb.Helper()
	ctx := context.Background()
	for key, ttl := range sp.keys(tb) {
		if ttl < 0 {
			tb.Fatalf("key %q: got PTTL %v, want an expiry", key, ttl)
		}
		var err error
		if ttl <= d {
			err = sp.c.Del(ctx, key).Err()
		} else {
			err = sp.c.PExpire(ctx, key, ttl-d).Err()
		}
		if err != nil {
			tb.Fatalf("advance %q: %v", key, err)
		}
	}
}

// TestEveryKeyExpires checks the PTTL of each key the Store writes: a
// claim lives at most its lease and a record at most its ttl. (Every other
// test checks in Cleanup that no key lacks an expiry.)
func TestEveryKeyExpires(t *testing.T) {
	sp := newSpace(t)
	s := redisstore.New(sp.c, sp.prefix, secret)
	ctx := t.Context()
	const lease, ttl = 10 * time.Second, time.Hour
	rec := idempotency.Record{Fingerprint: "fp", Status: 200, Body: []byte("x")}
	mustNil(t, "Put", s.Put(ctx, "done", rec, ttl))
	mustNil(t, "second Put", s.Put(ctx, "done", rec, 2*ttl))
	_, err := s.Claim(ctx, "held", lease)
	mustNil(t, "Claim", err)
	released, err := s.Claim(ctx, "released", lease)
	mustNil(t, "Claim", err)
	mustNil(t, "Release", s.Release(ctx, "released", released))
	_, err = s.Claim(ctx, "sub-millisecond", time.Microsecond)
	mustNil(t, "Claim with a sub-millisecond lease", err)

	want := map[string]time.Duration{redisstore.RecordName(sp.prefix, "done"): ttl, redisstore.ClaimName(sp.prefix, "held"): lease}
	got := sp.keys(t)
	for key, max := range want {
		if ttl, ok := got[key]; !ok || ttl <= 0 || ttl > max {
			t.Errorf("PTTL %q = %v (present %v), want in (0, %v]", key, ttl, ok, max)
		}
	}
	if len(got) > 3 {
		t.Errorf("got keys %v, want only %v and perhaps the sub-millisecond claim", got, want)
	}
}

// TestUnavailable checks that a Store whose client is closed fails every
// call with a non-sentinel error.
func TestUnavailable(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	c.Close()
	s := redisstore.New(c, "dead:", secret)
	ctx := t.Context()
	_, getErr := s.Get(ctx, "k")
	_, claimErr := s.Claim(ctx, "k", time.Second)
	tests := map[string]error{
		"Get":     getErr,
		"Claim":   claimErr,
		"Release": s.Release(ctx, "k", "token"),
		"Put":     s.Put(ctx, "k", idempotency.Record{}, time.Second),
	}
	for op, err := range tests {
		if err == nil || errors.Is(err, idempotency.ErrNotFound) || errors.Is(err, idempotency.ErrInFlight) {
			t.Errorf("%s on a closed client: got error %v, want a client error", op, err)
		}
	}
}

func mustNil(tb testing.TB, op string, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("%s: %v", op, err)
	}
}
