package harness

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idemsum/idemsum/internal/testenv"
)

// WipePrefix deletes every Redis key under c's prefix, as a FLUSHDB would
// for this test alone, and returns how many it deleted.
func WipePrefix(t testing.TB, c *Cluster) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	n := 0
	var batch []string
	flush := func() {
		if len(batch) > 0 {
			c.Redis.Unlink(ctx, batch...)
			n += len(batch)
			batch = batch[:0]
		}
	}
	iter := c.Redis.Scan(ctx, 0, c.Prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		if batch = append(batch, iter.Val()); len(batch) == 500 {
			flush()
		}
	}
	flush()
	if err := iter.Err(); err != nil {
		t.Fatalf("wipe %s*: %v", c.Prefix, err)
	}
	return n
}

// The Redis databases of the tests, in one list so that no two tests share
// one by accident. Each test's keys live under a prefix of its own in
// RedisDBShared; a test that runs FLUSHDB has a database to itself, and
// one that makes many keys keeps them out of the others' SCANs. None is 0,
// which may hold anything (or 14, scripts/bench.sh's), so that the tests'
// SCANs stay fast whatever else the server holds.
const (
	RedisDBClient   = 8  // TestClientUnderFaults's FLUSHDB
	RedisDBFailover = 9  // the MySQL failover tests' keys (no FLUSHDB)
	RedisDBShared   = 10 // every other test, each under its own prefix
	RedisDBBurst    = 11 // TestBurst: many keys
	RedisDBSoak     = 12 // TestSoak's FLUSHDB
	RedisDBExpiry   = 13 // TestExpiryAgreesEverywhere's FLUSHDB
	RedisDBFlush    = 15 // TestRedisFlushedMidRun's FLUSHDB
)

// redisURLDB returns testenv's Redis URL with database db selected.
func redisURLDB(db int) string {
	u, err := url.Parse(testenv.RedisURL())
	if err != nil {
		return testenv.RedisURL()
	}
	u.Path = fmt.Sprintf("/%d", db)
	return u.String()
}

// dbTests counts the live Clusters on each database of the test Redis by
// the (top-level) test that started them, for FlushRedis.
var dbTests = struct {
	sync.Mutex
	m map[int]map[string]int
}{m: map[int]map[string]int{}}

// useDB notes a Cluster of t's on database db until t's Cleanup.
func useDB(t testing.TB, db int) {
	name, _, _ := strings.Cut(t.Name(), "/")
	dbTests.Lock()
	defer dbTests.Unlock()
	if dbTests.m[db] == nil {
		dbTests.m[db] = map[string]int{}
	}
	dbTests.m[db][name]++
	t.Cleanup(func() {
		dbTests.Lock()
		defer dbTests.Unlock()
		if dbTests.m[db][name]--; dbTests.m[db][name] == 0 {
			delete(dbTests.m[db], name)
		}
	})
}

// FlushRedis runs FLUSHDB on c's database of the test Redis, failing t
// (Fatal) instead when a Cluster of another test runs on that database
// now: a FLUSHDB would wipe that test's keys under its feet. A test that
// flushes needs a database of its own (the list above).
func (c *Cluster) FlushRedis(t testing.TB) {
	t.Helper()
	if c.db == 0 {
		t.Fatalf("FLUSHDB: %s is not on the test Redis", c.RedisURL)
	}
	name, _, _ := strings.Cut(t.Name(), "/")
	dbTests.Lock()
	var others []string
	for n := range dbTests.m[c.db] {
		if n != name {
			others = append(others, n)
		}
	}
	dbTests.Unlock()
	if len(others) > 0 {
		sort.Strings(others)
		t.Fatalf("FLUSHDB of Redis database %d would wipe the keys of %v, which run beside %s on it: give %s a database of its own (harness/redis.go)", c.db, others, name, name)
	}
	if err := c.Redis.FlushDB(t.Context()).Err(); err != nil {
		t.Fatalf("FLUSHDB: %v", err)
	}
}

// sweep fails t for every key under prefix in rdb that has no expiry,
// then deletes every key under prefix. StartCluster runs it in Cleanup,
// once the instances are dead; a Redis that does not answer fails t, as
// the keys cannot be checked. It sends PTTL and UNLINK in pipelines: a
// test may leave tens of thousands of keys.
func sweep(t testing.TB, rdb *redis.Client, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var names []string
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		names = append(names, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Errorf("after the test: cannot check that every Redis key under %s has an expiry: SCAN: %v", prefix, err)
		return
	}
	var bad []string
	for len(names) > 0 {
		chunk := names[:min(len(names), 1000)]
		names = names[len(chunk):]
		ttls := make([]*redis.DurationCmd, len(chunk))
		_, err := rdb.Pipelined(ctx, func(pl redis.Pipeliner) error {
			for i, k := range chunk {
				ttls[i] = pl.PTTL(ctx, k)
			}
			return nil
		})
		if err != nil {
			t.Errorf("after the test: cannot check that every Redis key under %s has an expiry: PTTL: %v", prefix, err)
			return
		}
		for i, k := range chunk {
			// PTTL -1 (go-redis: -1ns) is a key without an expiry; -2 one
			// gone meanwhile; 0 a key with less than a millisecond left,
			// which has one (a record of a short -key-ttl ending now).
			if ttl := ttls[i].Val(); ttl == -1*time.Nanosecond {
				bad = append(bad, fmt.Sprintf("%s (PTTL %v)", k, ttl))
			}
		}
		if err := rdb.Unlink(ctx, chunk...).Err(); err != nil {
			t.Errorf("after the test: delete the Redis keys under %s: %v", prefix, err)
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		t.Errorf("after the test: %d Redis keys under %s without an expiry, want none: %q", len(bad), prefix, bad[:min(len(bad), 20)])
	}
}

// ScanTTLs returns every key under prefix with its PTTL, on every master
// of a cluster; keys that expired between SCAN and PTTL are left out.
func ScanTTLs(ctx context.Context, c redis.UniversalClient, prefix string) (map[string]time.Duration, error) {
	var mu sync.Mutex
	ttls := map[string]time.Duration{}
	scan := func(ctx context.Context, c redis.UniversalClient) error {
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			ttl, err := c.PTTL(ctx, iter.Val()).Result()
			if err != nil {
				return fmt.Errorf("PTTL %q: %w", iter.Val(), err)
			}
			if ttl != -2*time.Nanosecond {
				mu.Lock()
				ttls[iter.Val()] = ttl
				mu.Unlock()
			}
		}
		if err := iter.Err(); err != nil {
			return fmt.Errorf("SCAN %s*: %w", prefix, err)
		}
		return nil
	}
	var err error
	if cc, ok := c.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error { return scan(ctx, m) })
	} else {
		err = scan(ctx, c)
	}
	return ttls, err
}

// RedisName is the name of one of sumd's Redis keys, split at its last
// "claim:" or "rec:" marker into NS (the -redis-prefix, and whatever sumd
// puts after it, such as a deployment id), Kind ("claim" or "rec") and
// Key, the idempotency key.
type RedisName struct {
	Name, NS, Kind, Key string
}

// ParseRedisName splits name; ok is false for a name without a marker.
func ParseRedisName(name string) (RedisName, bool) {
	c, r := strings.LastIndex(name, "claim:"), strings.LastIndex(name, "rec:")
	switch {
	case c < 0 && r < 0:
		return RedisName{}, false
	case c > r:
		return RedisName{name, name[:c], "claim", name[c+len("claim:"):]}, true
	default:
		return RedisName{name, name[:r], "rec", name[r+len("rec:"):]}, true
	}
}

// ScanNames returns sumd's keys under prefix in rdb.
func ScanNames(ctx context.Context, rdb *redis.Client, prefix string) ([]RedisName, error) {
	var names []RedisName
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		if n, ok := ParseRedisName(iter.Val()); ok {
			names = append(names, n)
		}
	}
	if err := iter.Err(); err != nil {
		return nil, fmt.Errorf("SCAN %s*: %w", prefix, err)
	}
	return names, nil
}

// NewRedisClient returns a client of the Redis at u (go-redis URL form),
// closed in t's Cleanup.
func NewRedisClient(t testing.TB, u string) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(u)
	if err != nil {
		t.Fatalf("parse %s: %v", u, err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}
