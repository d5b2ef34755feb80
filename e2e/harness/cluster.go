package harness

import (
	"cmp"
	"database/sql"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idemsum/idemsum/idempotency/redisstore"
	"github.com/idemsum/idemsum/internal/faultproxy"
	"github.com/idemsum/idemsum/internal/testenv"
)

// LeaseTTL is every instance's -lease-ttl: short, so that claims of dead
// or frozen instances expire fast.
const LeaseTTL = time.Second

// KeyTTL is every instance's -key-ttl unless a test sets its own: longer
// than any test, short enough that leftovers of a crashed run expire.
const KeyTTL = 10 * time.Minute

// Options configure a Cluster.
type Options struct {
	Instances int
	// DSN is the instances' -mysql-dsn; "" means a fresh test database of
	// the Cluster's own (testenv). DB, when set, is the test's pool for
	// checks on that database; else one is opened from DSN.
	DSN string
	DB  *sql.DB
	// RedisURL is the instances' -redis-url: "" means the test Redis
	// (testenv), "off" MySQL-only mode; anything else is passed as is.
	RedisURL string
	// Redis is the test's own client of RedisURL (when not ""), through
	// which the checks read Redis: a *redis.Client (one Redis, or a
	// Sentinel-backed one) becomes Cluster.Redis, a *redis.ClusterClient
	// Cluster.RedisCluster.
	Redis redis.UniversalClient
	// RedisDB selects the database of the test Redis when RedisURL is "";
	// 0 means RedisDBShared.
	RedisDB int
	// Args are more sumd flags; they override the Cluster's own.
	Args []string
	// MySQLProxy and RedisProxy put a fault proxy between the instances
	// and the service (the test's own connections go direct).
	MySQLProxy, RedisProxy bool
	// MySQLProxyEach gives every instance a fault proxy to MySQL of its own.
	MySQLProxyEach bool
	// Prefix is the instances' -redis-prefix; "" means one of the
	// Cluster's own. Clusters given the same Prefix (and Redis database)
	// share their Redis key space, as two deployments sharing a Redis.
	Prefix string
	// InstanceArgs are more sumd flags for single instances, by index,
	// after every other flag (the last of a repeated flag counts): for
	// example {2: {"-redis-url", "off"}} makes sumd2 MySQL-only.
	InstanceArgs map[int][]string
	// InstanceBinary runs single instances, by index, from another sumd
	// binary than the one Main built (another release of it); their
	// exchanges are not checked against this release's description.
	InstanceBinary map[int]string
}

// Cluster is N sumd processes sharing one fresh MySQL database and one
// Redis key prefix of the test's own.
type Cluster struct {
	DSN      string
	DB       *sql.DB       // the test database, for direct checks
	Redis    *redis.Client // the instances' Redis database; nil without one
	RedisURL string
	Prefix   string // the instances' -redis-prefix
	// KeyPrefix is what sumd's Redis key names start with: Prefix and the
	// deployment's id (from MySQL), the prefix of its redisstore.Store;
	// ClaimName and RecordName give the full names.
	KeyPrefix string
	Instances []*Instance

	// RedisCluster is the instances' Redis Cluster (Options.Redis); the
	// checks scan each of its masters.
	RedisCluster *redis.ClusterClient

	MySQLProxy, RedisProxy *faultproxy.Proxy // with Options.MySQLProxy, RedisProxy

	t   testing.TB
	db  int     // the database of the test Redis; 0 for another Redis
	api *apiLog // the exchanges server/openapi.json does not allow
}

// StartCluster starts opts.Instances instances, all healthy on return.
// Cleanup kills them (SIGKILL) and shows their stderr if the test failed;
// then it fails t for every exchange with them that server/openapi.json
// does not allow (see Do) and, on the test Redis (Options.RedisURL ""),
// for every key under the Cluster's prefix without an expiry, and deletes
// those keys.
func StartCluster(t testing.TB, opts Options) *Cluster {
	t.Helper()
	c := &Cluster{DSN: opts.DSN, DB: opts.DB, RedisURL: opts.RedisURL, t: t, api: &apiLog{}}
	t.Cleanup(func() { c.api.report(t) }) // runs last: every exchange is over
	if c.DSN == "" {
		c.DSN = testenv.MySQL(t)
	}
	c.Prefix = cmp.Or(opts.Prefix, "idemsum:e2e:"+testenv.Unique()+":")
	if c.RedisURL == "" {
		testenv.Redis(t) // skips (or fails in CI) when Redis is absent
		c.db = cmp.Or(opts.RedisDB, RedisDBShared)
		c.RedisURL = redisURLDB(c.db)
		useDB(t, c.db)
		c.Redis = NewRedisClient(t, c.RedisURL)
		// Registered before the instances' Cleanup, so it runs after it:
		// once they are dead nothing writes under the prefix any more.
		t.Cleanup(func() { sweep(t, c.Redis, c.Prefix) })
	}
	switch r := opts.Redis.(type) {
	case *redis.Client:
		c.Redis = r
	case *redis.ClusterClient:
		c.RedisCluster = r
	}
	if c.DB == nil {
		db, err := sql.Open("mysql", c.DSN)
		if err != nil {
			t.Fatalf("open test database: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		c.DB = db
	}
	dsn, redisURL := c.DSN, c.RedisURL
	if opts.MySQLProxy {
		c.MySQLProxy, dsn = proxyDSN(t, c.DSN)
	}
	if opts.RedisProxy {
		c.RedisProxy, redisURL = proxyURL(t, c.RedisURL)
	}
	args := []string{
		"-http-addr", "127.0.0.1:0",
		"-mysql-dsn", dsn,
		"-redis-url", redisURL,
		"-redis-prefix", c.Prefix,
		"-key-ttl", KeyTTL.String(),
		"-lease-ttl", LeaseTTL.String(),
		"-mysql-max-conns", "8",
		"-shutdown-timeout", "2s",
	}
	args = append(args, opts.Args...)
	for i := range opts.Instances {
		in := c.newInstance(t, args, opts.InstanceBinary[i])
		if opts.MySQLProxyEach {
			var dsn string
			in.MySQLProxy, dsn = proxyDSN(t, c.DSN)
			in.args = append(slices.Clip(in.args), "-mysql-dsn", dsn) // the last one counts
		}
		in.args = append(slices.Clip(in.args), opts.InstanceArgs[i]...)
		in.start()
		c.Instances = append(c.Instances, in)
	}
	var id string
	if err := c.DB.QueryRow("SELECT deployment_id FROM sum_deployment WHERE id = 1").Scan(&id); err != nil {
		t.Fatalf("read the deployment id: %v", err)
	}
	c.KeyPrefix = c.Prefix + id + ":"
	return c
}

// newInstance returns instance number len(c.Instances) of c, not started,
// with args, run from bin ("" for the sumd Main built); t's Cleanup kills
// it.
func (c *Cluster) newInstance(t testing.TB, args []string, bin string) *Instance {
	in := &Instance{t: t, c: c, Name: fmt.Sprintf("sumd%d", len(c.Instances)), args: args, log: &logBuffer{}, bin: bin}
	t.Cleanup(in.cleanup)
	return in
}

// AddInstance starts one more instance of c with the flags of its first
// (not those of Options.InstanceArgs), from bin ("" for the sumd Main
// built), and returns it healthy; the caller appends it to c.Instances
// when the checks are to include it.
func (c *Cluster) AddInstance(t testing.TB, bin string) *Instance {
	t.Helper()
	first := c.Instances[0]
	first.mu.Lock()
	args := slices.Clone(first.args)
	first.mu.Unlock()
	in := c.newInstance(t, args, bin)
	in.Name = fmt.Sprintf("sumd%d", len(c.Instances))
	in.start()
	return in
}

// PinPorts makes every later Restart of c's instances listen on the port
// each listens on now (where a proxy in front of them expects it).
func (c *Cluster) PinPorts() {
	for _, in := range c.Instances {
		in.mu.Lock()
		in.args = append(slices.Clip(in.args), "-http-addr", in.addr)
		in.mu.Unlock()
	}
}

// ClaimName returns the Redis name of key's claim (redisstore's layout).
func (c *Cluster) ClaimName(key string) string { return redisstore.ClaimName(c.KeyPrefix, key) }

// RecordName returns the Redis name of key's record.
func (c *Cluster) RecordName(key string) string { return redisstore.RecordName(c.KeyPrefix, key) }

// RedisClient returns the client the checks read the instances' Redis
// through (Redis or RedisCluster), or nil.
func (c *Cluster) RedisClient() redis.UniversalClient {
	switch {
	case c.Redis != nil:
		return c.Redis
	case c.RedisCluster != nil:
		return c.RedisCluster
	}
	return nil
}

// Live returns the instances that run and are not frozen.
func (c *Cluster) Live() []*Instance {
	var live []*Instance
	for _, in := range c.Instances {
		if in.Live() {
			live = append(live, in)
		}
	}
	return live
}
