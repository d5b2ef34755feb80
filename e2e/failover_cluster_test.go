package e2e_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"idemsum/internal/faultproxy"
	"idemsum/internal/mariadbtopo"
)

// redisDBFailover is the Redis database of the failover tests' keys (see
// main_test.go for the others): kept out of redisDBShared, whose SCANs
// TestMain's check after all tests has to get through.
const redisDBFailover = 9

// The database and account of sumd on the topologies of the failover
// tests. The account has every privilege on the database and none beyond
// it, so that read_only=ON refuses its writes (root's it would not).
const (
	failoverDB       = "idemsum"
	failoverUser     = "sumd"
	failoverPassword = "sumd"
)

// topology is a primary and a replica of the test's own, and three sumd
// instances that reach "the primary" at one address, vip: a fault proxy
// that stands for a virtual IP or a proxy such as HAProxy or ProxySQL,
// which the test moves to the promoted replica. The replica reaches the
// primary through another, link, with a latency: the network between two
// zones or regions. (Without it the replica, on the same host, would have
// each transaction microseconds after its commit.)
type topology struct {
	primary, replica *mariadbtopo.Server
	vip, link        *faultproxy.Proxy
	c                *Cluster
}

// startTopology starts the pair (semi-synchronous replication if
// semiSync, latency each way between them) and three instances pointed at
// the primary through vip, with dsnParams (name=value) in their DSN.
func startTopology(t *testing.T, semiSync bool, latency time.Duration, dsnParams ...string) *topology {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	tp := &topology{}
	tp.primary, tp.replica = mariadbtopo.Pair(t, mariadbtopo.PairOptions{SemiSync: semiSync, Link: func(addr string) string {
		tp.link = startProxy(t, addr)
		tp.link.SetLatency(latency)
		return tp.link.Addr()
	}})
	if err := tp.primary.CreateApp(ctx, failoverDB, failoverUser, failoverPassword); err != nil {
		t.Fatal(err)
	}
	tp.vip = startProxy(t, tp.primary.Addr)
	var extra []string
	if len(dsnParams) > 0 {
		extra = []string{"-mysql-dsn", fmt.Sprintf("%s:%s@tcp(%s)/%s?%s", failoverUser, failoverPassword, tp.vip.Addr(), failoverDB, strings.Join(dsnParams, "&"))}
	}
	tp.c = startClusterOn(t, 3, tp.vip.Addr(), tp.checkDB(t, tp.primary), "", extra...)
	tp.c.MySQLProxy = tp.vip
	return tp
}

// crash stops the primary as the crash of its host would: from this
// moment nothing reaches or leaves it (what is on its way to sumd or to
// the replica is held, and dropped when the connections are reset), and
// mariadbd dies (SIGKILL).
func (tp *topology) crash() {
	tp.vip.Blackhole(true)
	tp.link.Blackhole(true)
	tp.primary.Kill()
	tp.link.CutAll()
}

// moveTo points the address at s, as a virtual IP moved to another host:
// connections to the old one are reset (the new host knows nothing of
// them) and new ones reach s.
func (tp *topology) moveTo(s *mariadbtopo.Server) {
	tp.vip.Retarget(s.Addr)
	tp.vip.Blackhole(false)
}

// checkDB returns a root pool on s's sumd database, for checkAll.
func (tp *topology) checkDB(t *testing.T, s *mariadbtopo.Server) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", s.DSN("root", "", failoverDB))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// startClusterOn starts n instances on sumd's database of the MySQL
// server at addr, as StartCluster does on testenv's MySQL, with the Redis
// at redisURL ("" means the test Redis, "off" none) under a prefix of
// their own; db is the test's own pool on that server, for checks. Extra
// flags come last.
func startClusterOn(t *testing.T, n int, addr string, db *sql.DB, redisURL string, extra ...string) *Cluster {
	t.Helper()
	return StartCluster(t, Options{
		Instances: n,
		DSN:       fmt.Sprintf("%s:%s@tcp(%s)/%s", failoverUser, failoverPassword, addr, failoverDB),
		DB:        db,
		RedisURL:  redisURL,
		RedisDB:   redisDBFailover,
		Args:      extra,
	})
}
