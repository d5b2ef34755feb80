package redisstore_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idemsum/idemsum/idempotency"
	"github.com/idemsum/idemsum/idempotency/redisstore"
)

// What the Store reads from Redis is not trusted: each test plants
// content the Store did not write at a key's names and checks that the key
// answers as if it were absent (or, for a claim, blocks it at most one
// lease), without an error that would mark Redis down.

var genuine = idempotency.Record{Fingerprint: "fp", Status: 200, ContentType: "application/json", Body: []byte(`{"total":5}` + "\n")}

func TestTamperedRecordsAreAbsent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for name, plant := range tamperings(ctx, "k") {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sp := newSpace(t)
			s := redisstore.New(sp.c, sp.prefix, secret)
			plant(sp, redisstore.RecordName(sp.prefix, "k"))
			if _, err := s.Get(ctx, "k"); !errors.Is(err, idempotency.ErrNotFound) {
				t.Fatalf("Get: got error %v, want %v", err, idempotency.ErrNotFound)
			}
			if n := sp.c.Exists(ctx, redisstore.RecordName(sp.prefix, "k")).Val(); n != 0 {
				t.Errorf("the planted record is still there after Get")
			}
			if _, err := s.Claim(ctx, "k", time.Second); err != nil {
				t.Errorf("Claim after Get: got error %v, want nil", err)
			}
		})
	}
}

// tamperings returns, by kind, functions that plant at a record's name
// in sp content the Store did not write for key (with secret): each kind
// of untrusted content that Get and GetMany must delete and not find.
func tamperings(ctx context.Context, key string) map[string]func(sp space, name string) {
	valid := func(key string) string {
		return string(redisstore.Encode(key, genuine, time.Now().Add(time.Hour), secret))
	}
	signed := func(rec idempotency.Record) string {
		return string(redisstore.Encode(key, rec, time.Now().Add(time.Hour), secret))
	}
	cookie := genuine
	cookie.Header = http.Header{"Set-Cookie": {"session=stolen"}}
	return map[string]func(sp space, name string){
		"undecodable":         func(sp space, name string) { sp.c.Set(ctx, name, "\x02junk", time.Hour) },
		"huge":                func(sp space, name string) { sp.c.Set(ctx, name, strings.Repeat("x", 1<<20), time.Hour) },
		"copied from another": func(sp space, name string) { sp.c.Set(ctx, name, valid("other"), time.Hour) },
		"another total": func(sp space, name string) {
			sp.c.Set(ctx, name, strings.Replace(valid(key), `"total":5`, `"total":7`, 1), time.Hour)
		},
		"wrong MAC": func(sp space, name string) {
			v := []byte(valid(key))
			v[len(v)-1] ^= 1
			sp.c.Set(ctx, name, v, time.Hour)
		},
		"another secret": func(sp space, name string) {
			sp.c.Set(ctx, name, redisstore.Encode(key, genuine, time.Now().Add(time.Hour), []byte("another")), time.Hour)
		},
		"no TTL, undecodable": func(sp space, name string) { sp.c.Set(ctx, name, "junk", 0) },
		"a hash":              func(sp space, name string) { sp.c.HSet(ctx, name, "f", "v"); sp.c.Expire(ctx, name, time.Hour) },
		"a list without TTL":  func(sp space, name string) { sp.c.RPush(ctx, name, "v") },
		"status 0":            func(sp space, name string) { sp.c.Set(ctx, name, signed(idempotency.Record{Status: 0}), time.Hour) },
		"status 1000":         func(sp space, name string) { sp.c.Set(ctx, name, signed(idempotency.Record{Status: 1000}), time.Hour) },
		"status 503":          func(sp space, name string) { sp.c.Set(ctx, name, signed(idempotency.Record{Status: 503}), time.Hour) },
		"Set-Cookie":          func(sp space, name string) { sp.c.Set(ctx, name, signed(cookie), time.Hour) },
		"past its deadline": func(sp space, name string) {
			sp.c.Set(ctx, name, redisstore.Encode(key, genuine, time.Now().Add(-time.Second), secret), time.Hour)
		},
	}
}

// TestForeignTypesNeverFailAScript: another type at a claim's or a
// record's name is deleted by Claim, Release and Complete, never an error.
func TestForeignTypesNeverFailAScript(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sp := newSpace(t)
	s := redisstore.New(sp.c, sp.prefix, secret)
	sp.c.HSet(ctx, redisstore.RecordName(sp.prefix, "a"), "f", "v")
	sp.c.RPush(ctx, redisstore.ClaimName(sp.prefix, "a"), "v")
	tok, err := s.Claim(ctx, "a", time.Minute)
	if err != nil {
		t.Fatalf("Claim over a hash record and a list claim: got %v, want nil", err)
	}
	sp.c.Del(ctx, redisstore.ClaimName(sp.prefix, "a"))
	sp.c.SAdd(ctx, redisstore.ClaimName(sp.prefix, "a"), "v")
	sp.c.Expire(ctx, redisstore.ClaimName(sp.prefix, "a"), time.Minute)
	if err := s.Release(ctx, "a", tok); err != nil {
		t.Errorf("Release over a set: got %v, want nil", err)
	}
	sp.c.ZAdd(ctx, redisstore.RecordName(sp.prefix, "a"), redis.Z{Score: 1, Member: "m"})
	sp.c.Expire(ctx, redisstore.RecordName(sp.prefix, "a"), time.Minute)
	if err := s.Complete(ctx, "a", tok, genuine, time.Hour); err != nil {
		t.Errorf("Complete over a sorted set record: got %v, want nil", err)
	}
	if got, err := s.Get(ctx, "a"); err != nil || string(got.Body) != string(genuine.Body) {
		t.Errorf("Get after Complete: got %q, %v; want the genuine record", got.Body, err)
	}
}

// TestClaimWithoutExpiryBlocksOneLease: a claim that lost its expiry (or
// was planted without one, or with a day) is given one lease, so its key
// is free again within one lease.
func TestClaimWithoutExpiryBlocksOneLease(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for name, ttl := range map[string]time.Duration{"no TTL": 0, "a day": 24 * time.Hour} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sp := newSpace(t)
			s := redisstore.New(sp.c, sp.prefix, secret)
			sp.c.Set(ctx, redisstore.ClaimName(sp.prefix, "k"), "forged", ttl)
			const lease = 200 * time.Millisecond
			if _, err := s.Claim(ctx, "k", lease); !errors.Is(err, idempotency.ErrInFlight) {
				t.Fatalf("Claim: got %v, want %v", err, idempotency.ErrInFlight)
			}
			if pttl := sp.c.PTTL(ctx, redisstore.ClaimName(sp.prefix, "k")).Val(); pttl <= 0 || pttl > lease {
				t.Fatalf("claim PTTL after Claim: got %v, want in (0, %v]", pttl, lease)
			}
			if !poll(5*time.Second, func() bool { _, err := s.Claim(ctx, "k", lease); return err == nil }) {
				t.Fatal("the key was still blocked 5s later")
			}
		})
	}
}

// TestRecordExpiryIsRepaired: a genuine record whose expiry was removed
// (PERSIST) is given back its own deadline on Get; once that deadline has
// passed it is absent, whatever Redis's TTL says.
func TestRecordExpiryIsRepaired(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sp := newSpace(t)
	s := redisstore.New(sp.c, sp.prefix, secret)
	name := redisstore.RecordName(sp.prefix, "k")
	if err := s.Put(ctx, "k", genuine, time.Hour); err != nil {
		t.Fatal(err)
	}
	sp.c.Persist(ctx, name)
	if _, err := s.Get(ctx, "k"); err != nil {
		t.Fatalf("Get: %v", err)
	}
	if pttl := sp.c.PTTL(ctx, name).Val(); pttl <= 0 || pttl > time.Hour {
		t.Errorf("PTTL after Get: got %v, want the record's own (0, 1h]", pttl)
	}
	if err := s.Put(ctx, "short", genuine, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	sp.c.Persist(ctx, redisstore.RecordName(sp.prefix, "short"))
	gone := poll(5*time.Second, func() bool {
		_, err := s.Get(ctx, "short")
		return errors.Is(err, idempotency.ErrNotFound)
	})
	if !gone {
		t.Fatal("a record without expiry was still returned 5s after its 100ms deadline")
	}
}

// TestDeploymentsDoNotShareRecords: two Stores with their own secrets on
// the same names (two deployments sharing a prefix) never replay each
// other's records.
func TestDeploymentsDoNotShareRecords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sp := newSpace(t)
	a := redisstore.New(sp.c, sp.prefix, []byte("deployment A secret"))
	b := redisstore.New(sp.c, sp.prefix, []byte("deployment B secret"))
	if err := a.Put(ctx, "k", genuine, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, "k"); !errors.Is(err, idempotency.ErrNotFound) {
		t.Fatalf("B's Get of A's record: got %v, want %v", err, idempotency.ErrNotFound)
	}
}

func poll(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// TestClaimAtACompletedKeyIsRepaired: a stray claim without expiry beside
// a genuine record is given one lease by the next Claim too, so no key is
// left without an expiry.
func TestClaimAtACompletedKeyIsRepaired(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sp := newSpace(t)
	s := redisstore.New(sp.c, sp.prefix, secret)
	if err := s.Put(ctx, "k", genuine, time.Hour); err != nil {
		t.Fatal(err)
	}
	sp.c.Set(ctx, redisstore.ClaimName(sp.prefix, "k"), "forged", 0)
	if _, err := s.Claim(ctx, "k", time.Second); !errors.Is(err, idempotency.ErrInFlight) {
		t.Fatalf("Claim of a completed key: got %v, want %v", err, idempotency.ErrInFlight)
	}
	if pttl := sp.c.PTTL(ctx, redisstore.ClaimName(sp.prefix, "k")).Val(); pttl <= 0 || pttl > time.Second {
		t.Errorf("stray claim PTTL after Claim: got %v, want in (0, 1s]", pttl)
	}
}

// TestRepairSparesANewerRecord: the expiry repair of a record read a
// moment ago must not cut short the record of a new lifetime that
// replaced it meanwhile (its key expired and was added again).
func TestRepairSparesANewerRecord(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sp := newSpace(t)
	s := redisstore.New(sp.c, sp.prefix, secret)
	name := redisstore.RecordName(sp.prefix, "k")
	old := string(redisstore.Encode("k", genuine, time.Now().Add(time.Millisecond), secret))
	newer := string(redisstore.Encode("k", genuine, time.Now().Add(time.Hour), secret))
	sp.c.Set(ctx, name, newer, time.Hour)
	s.Repair(ctx, name, old, time.Millisecond)
	if pttl := sp.c.PTTL(ctx, name).Val(); pttl < 59*time.Minute {
		t.Fatalf("PTTL of the newer record after repairing the old one: %v, want its own hour", pttl)
	}
	sp.c.Persist(ctx, name)
	s.Repair(ctx, name, newer, 10*time.Second)
	if pttl := sp.c.PTTL(ctx, name).Val(); pttl <= 0 || pttl > 10*time.Second {
		t.Fatalf("PTTL after repairing the record itself: %v, want (0, 10s]", pttl)
	}
}
