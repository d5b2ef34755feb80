package ledgercache_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idemsum/idemsum"
	"github.com/idemsum/idemsum/idempotency"
	"github.com/idemsum/idemsum/idempotency/redisstore"
	"github.com/idemsum/idemsum/internal/testenv"
	"github.com/idemsum/idemsum/ledgercache"
	"github.com/idemsum/idemsum/mysql"
	"github.com/idemsum/idemsum/mysql/mysqltest"
)

// These tests run ledgercache.Ledger over a real MySQL ledger and a real
// redisstore.Store: answers from the cache must be exactly MySQL's, and
// MySQL must never add twice, whatever Redis holds or whether it answers.

var secret = []byte("ledgercache test secret, 32 byte")

// counting is an idemsum.Ledger that counts the calls and additions that
// reach the Ledger it wraps.
type counting struct {
	idemsum.Ledger
	calls, adds atomic.Int64
}

func (c *counting) Add(ctx context.Context, adds []idemsum.Addition) ([]idemsum.Result, error) {
	c.calls.Add(1)
	c.adds.Add(int64(len(adds)))
	return c.Ledger.Add(ctx, adds)
}

// fixture is a cache over a MySQL ledger of its own (counted) and a Redis
// key space of its own.
type fixture struct {
	cache  *ledgercache.Ledger
	mysql  *counting
	store  *redisstore.Store
	rc     *redis.Client
	prefix string
}

const ttl = time.Hour

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db := mysqltest.DB(t)
	rc, prefix := testenv.Redis(t)
	f := &fixture{mysql: &counting{Ledger: &mysql.Ledger{DB: db}}, store: redisstore.New(rc, prefix, secret), rc: rc, prefix: prefix}
	f.cache = &ledgercache.Ledger{
		Ledger:  f.mysql,
		Store:   f.store,
		TTL:     ttl,
		Timeout: 10 * time.Second, // a slow machine is not a Redis outage
		OnError: func(op string, err error) { t.Errorf("OnError(%q, %v): the test Redis failed", op, err) },
	}
	// Registered after testenv.Redis's, so it runs before the keys go.
	t.Cleanup(func() {
		f.cache.Wait()
		f.wantTTLs(t)
	})
	return f
}

// names returns the Redis names under f's prefix.
func (f *fixture) names(t *testing.T) []string {
	t.Helper()
	ctx := context.Background()
	var names []string
	iter := f.rc.Scan(ctx, 0, f.prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		names = append(names, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("SCAN: %v", err)
	}
	return names
}

// wantTTLs fails t if a Redis key under f's prefix has no expiry or more
// than the key TTL left.
func (f *fixture) wantTTLs(t *testing.T) {
	t.Helper()
	for _, name := range f.names(t) {
		pttl := f.rc.PTTL(context.Background(), name).Val()
		if pttl == -2*time.Nanosecond { // expired since the scan
			continue
		}
		if pttl <= 0 || pttl > ttl {
			t.Errorf("Redis key %q: PTTL %v, want in (0, %v]", name, pttl, ttl)
		}
	}
}

// flush deletes every Redis key of f (its prefix only: the Redis is
// shared with other tests).
func (f *fixture) flush(t *testing.T) {
	t.Helper()
	for _, name := range f.names(t) {
		if err := f.rc.Del(context.Background(), name).Err(); err != nil {
			t.Fatalf("DEL %s: %v", name, err)
		}
	}
}

func (f *fixture) add(t *testing.T, adds ...idemsum.Addition) []idemsum.Result {
	t.Helper()
	res, err := f.cache.Add(t.Context(), adds)
	if err != nil {
		t.Fatalf("Add(%v): %v", adds, err)
	}
	// The batch's records are stored in the background: what the test
	// checks next (Redis, a retry answered from it) follows the store.
	f.cache.Wait()
	if len(res) != len(adds) {
		t.Fatalf("Add of %d additions: %d results", len(adds), len(res))
	}
	return res
}

// total returns MySQL's total.
func (f *fixture) total(t *testing.T) string {
	t.Helper()
	total, err := f.mysql.Total(t.Context())
	if err != nil {
		t.Fatalf("Total: %v", err)
	}
	return total
}

// wantCalls fails t unless MySQL was called calls times in all.
func (f *fixture) wantCalls(t *testing.T, calls int64, when string) {
	t.Helper()
	if got := f.mysql.calls.Load(); got != calls {
		t.Errorf("%s: %d calls to MySQL in all, want %d", when, got, calls)
	}
}

// recordName is the Redis name of the record of a's key.
func (f *fixture) recordName(a idemsum.Addition) string {
	return redisstore.RecordName(f.prefix, idempotency.ScopedKey(a.Client, a.Key))
}

// wantCached fails t unless Redis holds, under the name of each
// addition's scoped key, exactly the Record of its result.
func (f *fixture) wantCached(t *testing.T, adds []idemsum.Addition, res []idemsum.Result) {
	t.Helper()
	keys := make([]string, len(adds))
	for i, a := range adds {
		keys[i] = idempotency.ScopedKey(a.Client, a.Key)
	}
	recs, found, err := f.store.GetMany(t.Context(), keys)
	if err != nil {
		t.Fatalf("GetMany: %v", err)
	}
	for i := range adds {
		want := ledgercache.Record(res[i])
		if !found[i] {
			t.Errorf("no record cached for %+v", adds[i])
			continue
		}
		got := recs[i]
		if got.Fingerprint != want.Fingerprint || got.Status != want.Status || got.ContentType != want.ContentType ||
			string(got.Body) != string(want.Body) || len(got.Header) != 0 || !got.Created.Equal(want.Created) {
			t.Errorf("record cached for %+v: %+v, want %+v", adds[i], got, want)
		}
	}
}

// sameResult reports whether got is want, Created to the millisecond.
func sameResult(got, want idemsum.Result) bool {
	return got.Total == want.Total && got.Existing == want.Existing && got.Number == want.Number &&
		got.Created.Truncate(time.Millisecond).Equal(want.Created.Truncate(time.Millisecond))
}

func wantResults(t *testing.T, when string, got, want []idemsum.Result) {
	t.Helper()
	for i := range want {
		if !sameResult(got[i], want[i]) {
			t.Errorf("%s: result %d = %+v, want %+v", when, i, got[i], want[i])
		}
	}
}

// existing returns res as a retry reads them: Existing.
func existing(res []idemsum.Result) []idemsum.Result {
	out := make([]idemsum.Result, len(res))
	for i, r := range res {
		r.Existing = true
		out[i] = r
	}
	return out
}

// batch returns three additions of fresh keys (one of a named client)
// numbered 1, 2, 3.
func batch() []idemsum.Addition {
	u := testenv.Unique()
	return []idemsum.Addition{
		{Key: "a-" + u, Number: 1},
		{Client: "alice", Key: "b-" + u, Number: 2},
		{Key: "c-" + u, Number: 3},
	}
}

// TestCachedBatchSkipsMySQL (a): a batch of fresh keys is added once and
// cached; the same batch again is answered from Redis (Existing, the same
// totals) without reaching MySQL, whose total is unchanged.
func TestCachedBatchSkipsMySQL(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	adds := batch()
	first := f.add(t, adds...)
	wantResults(t, "first Add", first, []idemsum.Result{
		{Total: "1", Number: 1, Created: first[0].Created},
		{Total: "3", Number: 2, Created: first[0].Created},
		{Total: "6", Number: 3, Created: first[0].Created},
	})
	f.wantCalls(t, 1, "first Add")
	f.wantCached(t, adds, first)

	again := f.add(t, adds...)
	f.wantCalls(t, 1, "the same batch again")
	wantResults(t, "the same batch again", again, existing(first))
	if total := f.total(t); total != "6" {
		t.Errorf("MySQL total after the cached batch: %s, want 6", total)
	}

	// A key twice in a batch is answered from its record for both.
	twice := f.add(t, adds[1], adds[0], adds[1])
	f.wantCalls(t, 1, "a batch with a key twice")
	wantResults(t, "a batch with a key twice", twice, existing([]idemsum.Result{first[1], first[0], first[1]}))

	// A batch mixing cached and fresh keys: only the fresh ones reach
	// MySQL, and the results keep the batch's order.
	fresh := idemsum.Addition{Key: "d-" + testenv.Unique(), Number: 4}
	mixed := f.add(t, adds[2], fresh, adds[0])
	f.wantCalls(t, 2, "a batch of cached and fresh keys")
	if n := f.mysql.adds.Load(); n != 4 {
		t.Errorf("%d additions reached MySQL in all, want 4 (3, then the fresh one)", n)
	}
	wantResults(t, "a batch of cached and fresh keys", mixed, []idemsum.Result{
		{Total: "6", Existing: true, Number: 3, Created: first[2].Created},
		{Total: "10", Number: 4, Created: mixed[1].Created},
		{Total: "1", Existing: true, Number: 1, Created: first[0].Created},
	})
	if total := f.total(t); total != "10" {
		t.Errorf("MySQL total: %s, want 10", total)
	}
}

// TestCachedRecordTTL: a record is cached until its Created plus the key
// TTL: stored later (by the cache's clock), it has less left.
func TestCachedRecordTTL(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.cache.Now = func() time.Time { return time.Now().Add(40 * time.Minute) }
	adds := batch()
	res := f.add(t, adds...)
	for _, a := range adds {
		if pttl := f.rc.PTTL(t.Context(), f.recordName(a)).Val(); pttl <= 0 || pttl > 20*time.Minute+time.Second {
			t.Errorf("PTTL of the record of %+v: %v, want about 20m (created 40m before the cache's now, TTL 1h)", a, pttl)
		}
	}
	f.wantCached(t, adds, res)
}

// TestReusedKeyGoesToMySQL (b): a key reused with another number is not
// answered from its record but by MySQL, with the number it holds.
func TestReusedKeyGoesToMySQL(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	adds := batch()
	first := f.add(t, adds...)
	reused := adds[1]
	reused.Number = 5
	got := f.add(t, reused, adds[0])
	f.wantCalls(t, 2, "a key reused with another number")
	wantResults(t, "a key reused with another number", got, existing([]idemsum.Result{first[1], first[0]}))
	if got[0].Number == reused.Number {
		t.Errorf("reused key: Number %d, want the stored %d", got[0].Number, first[1].Number)
	}
	if total := f.total(t); total != "6" {
		t.Errorf("MySQL total: %s, want 6", total)
	}
	// Its record is still the first one: the right number is still
	// answered from it.
	f.wantCached(t, adds, first)
	f.add(t, adds[1])
	f.wantCalls(t, 2, "the key with its own number")
}

// TestFlushedCacheFallsBackToMySQL (c): with Redis emptied, a retried
// batch is answered by MySQL (Existing, the same totals), and its records
// are cached again.
func TestFlushedCacheFallsBackToMySQL(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	adds := batch()
	first := f.add(t, adds...)
	f.flush(t)
	if n := len(f.names(t)); n != 0 {
		t.Fatalf("%d Redis keys after the flush", n)
	}
	got := f.add(t, adds...)
	f.wantCalls(t, 2, "the batch after a flush")
	wantResults(t, "the batch after a flush", got, existing(first))
	if total := f.total(t); total != "6" {
		t.Errorf("MySQL total: %s, want 6", total)
	}
	f.wantCached(t, adds, first)
	again := f.add(t, adds...)
	f.wantCalls(t, 2, "the batch once cached again")
	wantResults(t, "the batch once cached again", again, existing(first))
}

// TestForgedRecordsAreNeverAnswered (d): records the Store did not write
// with its secret, claiming another total, are never answered: the
// results are MySQL's, for recorded keys and fresh ones.
func TestForgedRecordsAreNeverAnswered(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	adds := batch()
	first := f.add(t, adds...)
	fresh := []idemsum.Addition{
		{Key: "fresh-" + testenv.Unique(), Number: 7},
		{Client: "bob", Key: "fresh-" + testenv.Unique(), Number: 8},
	}
	// A forger without the secret: a Store of the same prefix under
	// another secret (Encode is internal to redisstore's tests).
	forger := redisstore.New(f.rc, f.prefix, []byte("a wrong secret"))
	lie := func(a idemsum.Addition) idempotency.Record {
		return ledgercache.Record(idemsum.Result{Total: "999", Existing: true, Number: a.Number, Created: time.UnixMilli(time.Now().UnixMilli())})
	}
	forge := func(a idemsum.Addition) {
		t.Helper()
		name := f.recordName(a)
		mustNil(t, "DEL", f.rc.Del(ctx, name).Err())
		mustNil(t, "forged Put", forger.Put(ctx, idempotency.ScopedKey(a.Client, a.Key), lie(a), ttl))
	}
	// Recorded keys: a record under a wrong secret, the genuine record
	// with its total altered, and a record under the right secret but
	// for another key (copied).
	forge(adds[0])
	genuine, err := f.rc.Get(ctx, f.recordName(adds[1])).Result()
	mustNil(t, "GET the genuine record", err)
	altered := strings.Replace(genuine, `{"total":3}`, `{"total":9}`, 1)
	if altered == genuine {
		t.Fatalf("the genuine record %q does not hold its total", genuine)
	}
	mustNil(t, "SET altered", f.rc.Set(ctx, f.recordName(adds[1]), altered, ttl).Err())
	other := idemsum.Addition{Key: "other-" + testenv.Unique(), Number: adds[2].Number}
	mustNil(t, "Put other", f.store.Put(ctx, other.Key, lie(other), ttl))
	copied, err := f.rc.Get(ctx, f.recordName(other)).Result()
	mustNil(t, "GET other", err)
	mustNil(t, "SET copied", f.rc.Set(ctx, f.recordName(adds[2]), copied, ttl).Err())
	// Fresh keys: records claiming they were added already.
	for _, a := range fresh {
		forge(a)
	}

	got := f.add(t, append(append([]idemsum.Addition{}, adds...), fresh...)...)
	f.wantCalls(t, 2, "a batch of forged records")
	wantResults(t, "forged records", got, append(existing(first),
		idemsum.Result{Total: "13", Number: 7, Created: got[3].Created},
		idemsum.Result{Total: "21", Number: 8, Created: got[4].Created}))
	if total := f.total(t); total != "21" {
		t.Errorf("MySQL total: %s, want 21", total)
	}
	// The forgeries were thrown away and the genuine records cached.
	f.wantCached(t, append(append([]idemsum.Addition{}, adds...), fresh...), append(existing(first), got[3:]...))
}

func mustNil(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// TestRedisDownGoesToMySQL (e): with Redis unreachable, additions still
// succeed exactly once through MySQL; the failure is reported to OnError
// and the Store is bypassed for Backoff, then tried again.
func TestRedisDownGoesToMySQL(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	down := redis.NewClient(&redis.Options{Addr: fmt.Sprint("127.0.0.1:", port), MaxRetries: -1, DialerRetries: 1, DialTimeout: time.Second})
	t.Cleanup(func() { down.Close() })
	var mu sync.Mutex
	var errs []string
	now := time.Now()
	const backoff = time.Minute
	f.cache = &ledgercache.Ledger{
		Ledger:  f.mysql,
		Store:   redisstore.New(down, f.prefix, secret),
		TTL:     ttl,
		Backoff: backoff,
		Now: func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			return now
		},
		OnError: func(op string, err error) {
			mu.Lock()
			defer mu.Unlock()
			errs = append(errs, op)
			if err == nil {
				t.Errorf("OnError(%q, nil)", op)
			}
		},
	}
	advance := func(d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(d)
	}
	reported := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), errs...)
	}
	if !f.cache.Available() {
		t.Fatal("Available before any failure: false")
	}
	adds := batch()
	first := f.add(t, adds...)
	wantResults(t, "Add with Redis down", first, []idemsum.Result{
		{Total: "1", Number: 1, Created: first[0].Created},
		{Total: "3", Number: 2, Created: first[0].Created},
		{Total: "6", Number: 3, Created: first[0].Created},
	})
	f.wantCalls(t, 1, "Add with Redis down")
	if got := reported(); len(got) != 1 || got[0] != "get" {
		t.Errorf("OnError calls: %v, want one \"get\"", got)
	}
	if f.cache.Available() {
		t.Error("Available right after a failure: true, want false for the backoff")
	}
	advance(backoff - time.Millisecond)
	if f.cache.Available() {
		t.Error("Available just before the backoff ends: true, want false")
	}
	// During the backoff the Store is bypassed: no new failure.
	again := f.add(t, adds...)
	f.wantCalls(t, 2, "the batch again during the backoff")
	wantResults(t, "the batch again during the backoff", again, existing(first))
	if got := reported(); len(got) != 1 {
		t.Errorf("OnError calls during the backoff: %v, want the first one only", got)
	}
	advance(time.Millisecond)
	if !f.cache.Available() {
		t.Error("Available once the backoff has passed: false, want true")
	}
	// After it the Store is tried again, fails again and is bypassed again.
	more := idemsum.Addition{Key: "e-" + testenv.Unique(), Number: 4}
	res := f.add(t, append(adds, more)...)
	f.wantCalls(t, 3, "a batch after the backoff")
	wantResults(t, "a batch after the backoff", res, append(existing(first), idemsum.Result{Total: "10", Number: 4, Created: res[3].Created}))
	if got := reported(); len(got) != 2 || got[1] != "get" {
		t.Errorf("OnError calls: %v, want two \"get\"", got)
	}
	if f.cache.Available() {
		t.Error("Available right after the second failure: true, want false")
	}
	if total := f.total(t); total != "10" {
		t.Errorf("MySQL total: %s, want 10 (each addition once)", total)
	}
	if n := len(f.names(t)); n != 0 {
		t.Errorf("%d keys in the test Redis, want none: the cache's Redis is down", n)
	}
}
