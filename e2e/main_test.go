package e2e_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"idemsum/internal/testenv"
)

// The Redis databases of the tests. Each test's keys live under a prefix
// of its own in redisDBShared; a test that runs FLUSHDB has a database to
// itself. None is 0, which may hold anything (or 14, scripts/bench.sh's),
// so that the tests' SCANs stay fast whatever else the server holds.
const (
	redisDBShared = 10
	redisDBBurst  = 11 // TestBurst: many keys, kept out of the others' SCANs
	redisDBSoak   = 12 // TestSoak's FLUSHDB
	redisDBExpiry = 13 // TestExpiryAgreesEverywhere's FLUSHDB
	redisDBFlush  = 15 // TestRedisFlushedMidRun's FLUSHDB
)

// sumdBin is the sumd binary built once by TestMain.
var sumdBin string

// usedPrefixes maps each Redis key prefix handed to instances to the URL of
// the Redis database it was used in, for the check after all tests.
var usedPrefixes sync.Map

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "idemsum-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	code := 1
	if err := buildSumd(dir); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
	} else {
		code = m.Run()
		if err := apiReport(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: after all tests:", err)
			code = 1
		}
		if err := checkUsedPrefixes(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: after all tests:", err)
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildSumd builds cmd/sumd into dir (without -race: the binary under test
// is the production build).
func buildSumd(dir string) error {
	sumdBin = filepath.Join(dir, "sumd")
	cmd := exec.Command("go", "build", "-o", sumdBin, "idemsum/cmd/sumd")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build idemsum/cmd/sumd: %v\n%s", err, out)
	}
	return nil
}

// redisURLDB returns testenv's Redis URL with database db selected.
func redisURLDB(db int) string {
	u, err := url.Parse(testenv.RedisURL())
	if err != nil {
		return testenv.RedisURL()
	}
	u.Path = fmt.Sprintf("/%d", db)
	return u.String()
}

// checkUsedPrefixes fails if any key under a prefix the tests used, in
// any Redis database they used, has no expiry; then it deletes
// those keys. Instances are all dead by now, so nothing writes any more.
func checkUsedPrefixes() error {
	byURL := map[string][]string{}
	usedPrefixes.Range(func(p, u any) bool {
		byURL[u.(string)] = append(byURL[u.(string)], p.(string))
		return true
	})
	var bad []string
	for u, prefixes := range byURL {
		b, err := sweep(u, prefixes)
		if err != nil {
			return err
		}
		bad = append(bad, b...)
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return fmt.Errorf("%d Redis keys without an expiry: %q", len(bad), bad[:min(len(bad), 20)])
	}
	return nil
}

// sweep returns the keys under prefixes in the database at u that have no
// expiry, and deletes every key under prefixes. An unreachable Redis
// (tests skipped) is not an error. It scans the database once for all
// prefixes and sends PTTL and DEL in pipelines: the test Redis may hold
// hundreds of thousands of other keys (other runs', with their TTLs), and
// a SCAN per prefix, a round trip per key, then took minutes.
func sweep(u string, prefixes []string) ([]string, error) {
	opt, err := redis.ParseURL(u)
	if err != nil {
		return nil, err
	}
	c := redis.NewClient(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if c.Ping(ctx).Err() != nil {
		return nil, nil
	}
	var names []string
	iter := c.Scan(ctx, 0, "", 1000).Iterator()
	for iter.Next(ctx) {
		if slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(iter.Val(), p) }) {
			names = append(names, iter.Val())
		}
	}
	if err := iter.Err(); err != nil {
		return nil, fmt.Errorf("SCAN db %d: %w", opt.DB, err)
	}
	var bad []string
	for len(names) > 0 {
		chunk := names[:min(len(names), 1000)]
		names = names[len(chunk):]
		ttls := make([]*redis.DurationCmd, len(chunk))
		if _, err := c.Pipelined(ctx, func(pl redis.Pipeliner) error {
			for i, k := range chunk {
				ttls[i] = pl.PTTL(ctx, k)
			}
			return nil
		}); err != nil {
			return nil, fmt.Errorf("PTTL: %w", err)
		}
		for i, k := range chunk {
			if ttl := ttls[i].Val(); ttl != -2*time.Nanosecond && ttl <= 0 {
				bad = append(bad, fmt.Sprintf("%s (db %d, PTTL %v)", k, opt.DB, ttl))
			}
		}
		c.Del(ctx, chunk...)
	}
	return bad, nil
}

// scanTTLs returns every key under prefix with its PTTL, on every master
// of a cluster; keys that expired between SCAN and PTTL are left out.
func scanTTLs(ctx context.Context, c redis.UniversalClient, prefix string) (map[string]time.Duration, error) {
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
