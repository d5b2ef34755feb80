package redisstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idemsum/idemsum/idempotency"
	"github.com/idemsum/idemsum/idempotency/redisstore"
	"github.com/idemsum/idemsum/internal/testenv"
)

// The tests of GetMany and PutMany (idempotency.BatchStore): Get's and
// Put's semantics key by key, in one call for many keys.

// recordOf returns a genuine record of its own for key, created at a
// whole millisecond (the Store keeps Created to the millisecond).
func recordOf(key string) idempotency.Record {
	return idempotency.Record{
		Fingerprint: "fp " + key,
		Status:      200,
		ContentType: "application/json",
		Body:        []byte(`{"total":` + fmt.Sprint(len(key)) + "}\n"),
		Created:     time.UnixMilli(time.Now().UnixMilli()),
	}
}

// sameRecord reports whether got is want as the Store keeps it.
func sameRecord(got, want idempotency.Record) bool {
	return got.Fingerprint == want.Fingerprint && got.Status == want.Status && got.ContentType == want.ContentType &&
		bytes.Equal(got.Body, want.Body) && sameHeader(got.Header, want.Header) && got.Created.Equal(want.Created)
}

// getMany is GetMany that fails tb on an error or on answers of the wrong
// length.
func getMany(tb testing.TB, s *redisstore.Store, keys []string) ([]idempotency.Record, []bool) {
	tb.Helper()
	recs, found, err := s.GetMany(tb.Context(), keys)
	if err != nil {
		tb.Fatalf("GetMany: %v", err)
	}
	if len(recs) != len(keys) || len(found) != len(keys) {
		tb.Fatalf("GetMany of %d keys: got %d records and %d found, want %d each", len(keys), len(recs), len(found), len(keys))
	}
	return recs, found
}

// TestGetManyMixed looks up absent keys, genuine records and every kind
// of tampered content (tamperings) in one GetMany: the genuine records
// are found, exactly; the others are not found, without an error, and the
// tampered content is deleted while the genuine records stay.
func TestGetManyMixed(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	sp := newSpace(t)
	s := redisstore.New(sp.c, sp.prefix, secret)
	want := map[string]idempotency.Record{}
	for _, k := range []string{"genuine 1", "genuine 2", "a{tag}", "scope key"} {
		want[k] = recordOf(k)
		mustNil(t, "Put "+k, s.Put(ctx, k, want[k], time.Hour))
	}
	withHeader := recordOf("with header")
	withHeader.Header = map[string][]string{"Location": {"/x"}, "Etag": {`"1"`}}
	want["with header"] = withHeader
	mustNil(t, "Put with header", s.Put(ctx, "with header", withHeader, time.Hour))

	tampered := map[string]bool{}
	for kind := range tamperings(ctx, "") {
		k := "tampered " + kind
		tampered[k] = true
		// Each kind planted for its own key, as tamper_test.go plants it
		// for "k".
		tamperings(ctx, k)[kind](sp, redisstore.RecordName(sp.prefix, k))
	}
	absent := []string{"absent 1", "absent 2", ""}

	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range tampered {
		keys = append(keys, k)
	}
	keys = append(keys, absent...)
	sort.Strings(keys) // genuine, tampered and absent keys interleaved

	recs, found := getMany(t, s, keys)
	for i, k := range keys {
		w, genuine := want[k]
		switch {
		case genuine && !found[i]:
			t.Errorf("GetMany: genuine %q not found", k)
		case genuine && !sameRecord(recs[i], w):
			t.Errorf("GetMany: %q = %+v, want %+v", k, recs[i], w)
		case !genuine && found[i]:
			t.Errorf("GetMany: %q found (%+v), want not found", k, recs[i])
		}
		n := sp.c.Exists(ctx, redisstore.RecordName(sp.prefix, k)).Val()
		if tampered[k] && n != 0 {
			t.Errorf("the content planted at %q is still there after GetMany", k)
		}
		if genuine && n != 1 {
			t.Errorf("the genuine record of %q is gone after GetMany", k)
		}
	}
	// What GetMany answers, Get answers too.
	for _, k := range keys {
		rec, err := s.Get(ctx, k)
		if _, genuine := want[k]; genuine != (err == nil) || (genuine && !sameRecord(rec, want[k])) {
			t.Errorf("Get %q after GetMany = %+v, %v", k, rec, err)
		}
	}
}

// TestGetManyRepairsExpiry: a genuine record whose expiry was removed
// (PERSIST) or stretched is given back its own deadline by GetMany, and
// one without expiry past its deadline is not found and deleted.
func TestGetManyRepairsExpiry(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	sp := newSpace(t)
	s := redisstore.New(sp.c, sp.prefix, secret)
	ttls := map[string]time.Duration{"persisted": time.Hour, "stretched": time.Minute, "untouched": time.Hour}
	for k, ttl := range ttls {
		mustNil(t, "Put "+k, s.Put(ctx, k, recordOf(k), ttl))
	}
	name := func(k string) string { return redisstore.RecordName(sp.prefix, k) }
	mustNil(t, "PERSIST", sp.c.Persist(ctx, name("persisted")).Err())
	mustNil(t, "PEXPIRE", sp.c.PExpire(ctx, name("stretched"), 24*time.Hour).Err())

	keys := []string{"persisted", "absent", "stretched", "untouched"}
	_, found := getMany(t, s, keys)
	for i, k := range keys {
		if found[i] != (k != "absent") {
			t.Errorf("GetMany: %q found %v", k, found[i])
		}
	}
	for k, ttl := range ttls {
		if pttl := sp.c.PTTL(ctx, name(k)).Val(); pttl <= 0 || pttl > ttl {
			t.Errorf("PTTL of %q after GetMany: got %v, want the record's own, in (0, %v]", k, pttl, ttl)
		}
	}

	mustNil(t, "Put short", s.Put(ctx, "short", recordOf("short"), 100*time.Millisecond))
	mustNil(t, "PERSIST", sp.c.Persist(ctx, name("short")).Err())
	gone := testenv.Eventually(5*time.Second, func() bool {
		_, found := getMany(t, s, []string{"untouched", "short"})
		return found[0] && !found[1]
	})
	if !gone {
		t.Fatal("GetMany still found a record without expiry 5s after its 100ms deadline")
	}
	if n := sp.c.Exists(ctx, name("short")).Val(); n != 0 {
		t.Error("the record past its deadline is still in Redis after GetMany")
	}
}

// TestPutMany: each item is stored with an expiry of at most its TTL; the
// first record of a key wins, across calls and within one; an item
// without a positive TTL is not stored, and ErrDuration is returned after
// the others are.
func TestPutMany(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	sp := newSpace(t)
	s := redisstore.New(sp.c, sp.prefix, secret)
	name := func(k string) string { return redisstore.RecordName(sp.prefix, k) }
	first := map[string]idempotency.Record{"a": recordOf("a"), "bb": recordOf("bb"), "dup": recordOf("dup")}
	second := recordOf("dup")
	second.Body = []byte(`{"total":999}` + "\n")
	err := s.PutMany(ctx, []idempotency.Item{
		{Key: "a", Record: first["a"], TTL: time.Hour},
		{Key: "zero", Record: recordOf("zero"), TTL: 0},
		{Key: "bb", Record: first["bb"], TTL: time.Minute},
		{Key: "negative", Record: recordOf("negative"), TTL: -time.Second},
		{Key: "dup", Record: first["dup"], TTL: time.Hour},
		{Key: "dup", Record: second, TTL: time.Hour},
	})
	if !errors.Is(err, redisstore.ErrDuration) {
		t.Fatalf("PutMany with TTLs 0 and -1s: got %v, want %v", err, redisstore.ErrDuration)
	}
	for k, ttl := range map[string]time.Duration{"a": time.Hour, "bb": time.Minute, "dup": time.Hour} {
		if pttl := sp.c.PTTL(ctx, name(k)).Val(); pttl <= 0 || pttl > ttl {
			t.Errorf("PTTL of %q: got %v, want in (0, %v]", k, pttl, ttl)
		}
	}
	for _, k := range []string{"zero", "negative"} {
		if n := sp.c.Exists(ctx, name(k)).Val(); n != 0 {
			t.Errorf("%q stored although its TTL is not positive", k)
		}
	}

	// A second PutMany of other records for the same keys, with longer
	// TTLs, changes neither the records nor their expiries.
	other := recordOf("other")
	first["c"] = recordOf("c")
	err = s.PutMany(ctx, []idempotency.Item{
		{Key: "a", Record: other, TTL: 2 * time.Hour},
		{Key: "c", Record: first["c"], TTL: time.Hour},
		{Key: "bb", Record: other, TTL: 2 * time.Hour},
	})
	mustNil(t, "second PutMany", err)
	keys := []string{"a", "bb", "c", "dup", "zero", "negative"}
	recs, found := getMany(t, s, keys)
	for i, k := range keys {
		w, ok := first[k]
		if found[i] != ok || (ok && !sameRecord(recs[i], w)) {
			t.Errorf("GetMany %q = %+v (found %v), want %+v (found %v)", k, recs[i], found[i], w, ok)
		}
	}
	for k, ttl := range map[string]time.Duration{"a": time.Hour, "bb": time.Minute} {
		if pttl := sp.c.PTTL(ctx, name(k)).Val(); pttl <= 0 || pttl > ttl {
			t.Errorf("PTTL of %q after the second PutMany: got %v, want its first, in (0, %v]", k, pttl, ttl)
		}
	}
	// What PutMany stored, Get reads.
	if rec, err := s.Get(ctx, "bb"); err != nil || !sameRecord(rec, first["bb"]) {
		t.Errorf("Get bb = %+v, %v; want %+v", rec, err, first["bb"])
	}
	mustNil(t, "empty PutMany", s.PutMany(ctx, nil))
	if _, found := getMany(t, s, nil); len(found) != 0 {
		t.Errorf("empty GetMany found %v", found)
	}
}

// TestBatchUnavailable: on a Redis that does not answer, GetMany and
// PutMany return an error, and GetMany finds nothing.
func TestBatchUnavailable(t *testing.T) {
	t.Parallel()
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	refused := redis.NewClient(&redis.Options{Addr: fmt.Sprint("127.0.0.1:", port), MaxRetries: -1, DialerRetries: 1, DialTimeout: time.Second})
	t.Cleanup(func() { refused.Close() })
	closed := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	closed.Close()
	for name, c := range map[string]*redis.Client{"closed port": refused, "closed client": closed} {
		t.Run(name, func(t *testing.T) {
			s := redisstore.New(c, "dead:", secret)
			ctx := t.Context()
			recs, found, err := s.GetMany(ctx, []string{"a", "b"})
			if err == nil || errors.Is(err, idempotency.ErrNotFound) {
				t.Errorf("GetMany: got error %v, want a client error", err)
			}
			for i, f := range found {
				if f {
					t.Errorf("GetMany with error %v found key %d: %+v", err, i, recs[i])
				}
			}
			err = s.PutMany(ctx, []idempotency.Item{{Key: "a", Record: genuine, TTL: time.Hour}})
			if err == nil || errors.Is(err, redisstore.ErrDuration) {
				t.Errorf("PutMany: got error %v, want a client error", err)
			}
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		sp := newSpace(t)
		s := redisstore.New(sp.c, sp.prefix, secret)
		mustNil(t, "Put", s.Put(t.Context(), "a", genuine, time.Hour))
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, found, err := s.GetMany(ctx, []string{"a"}); err == nil || len(found) > 0 && found[0] {
			t.Errorf("GetMany with a cancelled context: found %v, error %v; want an error and nothing found", found, err)
		}
		if err := s.PutMany(ctx, []idempotency.Item{{Key: "b", Record: genuine, TTL: time.Hour}}); err == nil {
			t.Error("PutMany with a cancelled context: got nil, want an error")
		}
	})
}

// testClusterBatch puts and gets keys of many slots, on every master, in
// one PutMany and one GetMany each (go-redis splits their pipelines per
// master), with tampered content and absent keys among them.
func testClusterBatch(t *testing.T, cc *redis.ClusterClient) {
	sp := clusterSpace(t, cc)
	s := redisstore.New(cc, sp.prefix, secret)
	ctx := t.Context()
	want := map[string]idempotency.Record{}
	var items []idempotency.Item
	masters := map[string]bool{}
	for i := range 60 {
		k := fmt.Sprint("b", i)
		want[k] = recordOf(k)
		items = append(items, idempotency.Item{Key: k, Record: want[k], TTL: time.Hour})
		m, err := cc.MasterForKey(ctx, redisstore.RecordName(sp.prefix, k))
		mustNil(t, "MasterForKey", err)
		masters[m.Options().Addr] = true
	}
	if len(masters) < 2 {
		t.Fatalf("the keys are on %d master(s), want several", len(masters))
	}
	mustNil(t, "PutMany", s.PutMany(ctx, items))
	keys := []string{"absent"}
	tampered := map[string]bool{}
	for _, kind := range []string{"wrong MAC", "copied from another", "a hash"} {
		k := "tampered " + kind
		tampered[k] = true
		tamperings(ctx, k)[kind](sp, redisstore.RecordName(sp.prefix, k))
		keys = append(keys, k)
	}
	for k := range want {
		keys = append(keys, k)
	}
	recs, found := getMany(t, s, keys)
	for i, k := range keys {
		w, ok := want[k]
		if found[i] != ok || (ok && !sameRecord(recs[i], w)) {
			t.Errorf("GetMany %q = %+v (found %v), want %+v (found %v)", k, recs[i], found[i], w, ok)
		}
		if tampered[k] && cc.Exists(ctx, redisstore.RecordName(sp.prefix, k)).Val() != 0 {
			t.Errorf("the content planted at %q is still there after GetMany", k)
		}
	}
}
