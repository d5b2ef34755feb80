package harness

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/idemsum/idemsum/internal/faultproxy"
	"github.com/idemsum/idemsum/internal/mariadbtopo"
)

// The database and account of sumd on a MariaDB server of the test's own
// (mariadbtopo): the failover and scaling tests'. The account has every privilege on the database and none beyond
// it, so that read_only=ON refuses its writes (root's it would not).
const (
	AppDatabase = "idemsum"
	AppUser     = "sumd"
	AppPassword = "sumd"
)

// Topology is a MySQL primary and replica of the test's own, and three
// sumd instances (C) that reach "the primary" at one address, VIP: a
// fault proxy that stands for a virtual IP or a proxy such as HAProxy or
// ProxySQL, which a test moves to the promoted replica. The replica
// reaches the primary through another, Link, with a latency: the network
// between two zones or regions. (Without it the replica, on the same
// host, would have each transaction microseconds after its commit.)
type Topology struct {
	Primary, Replica *mariadbtopo.Server
	VIP, Link        *faultproxy.Proxy
	C                *Cluster // C.MySQLProxy is VIP
}

// StartTopology starts the pair (semi-synchronous replication if
// semiSync, latency each way between them) and three instances pointed at
// the primary through VIP, with dsnParams (name=value) in their DSN; their
// Redis keys are in RedisDBFailover.
func StartTopology(t testing.TB, semiSync bool, latency time.Duration, dsnParams ...string) *Topology {
	t.Helper()
	// Set-up, not a measurement: two mariadbd start and replicate first,
	// which takes a minute and more on a machine busy with other tests.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	tp := &Topology{}
	tp.Primary, tp.Replica = mariadbtopo.Pair(t, mariadbtopo.PairOptions{SemiSync: semiSync, Link: func(addr string) string {
		tp.Link = StartProxy(t, addr)
		tp.Link.SetLatency(latency)
		return tp.Link.Addr()
	}})
	if err := tp.Primary.CreateApp(ctx, AppDatabase, AppUser, AppPassword); err != nil {
		t.Fatal(err)
	}
	tp.VIP = StartProxy(t, tp.Primary.Addr)
	var extra []string
	if len(dsnParams) > 0 {
		extra = []string{"-mysql-dsn", fmt.Sprintf("%s:%s@tcp(%s)/%s?%s", AppUser, AppPassword, tp.VIP.Addr(), AppDatabase, strings.Join(dsnParams, "&"))}
	}
	tp.C = StartClusterOn(t, 3, tp.VIP.Addr(), RootPool(t, tp.Primary), "", extra...)
	tp.C.MySQLProxy = tp.VIP
	return tp
}

// Crash stops the primary as the crash of its host would: from this
// moment nothing reaches or leaves it (what is on its way to sumd or to
// the replica is held, and dropped when the connections are reset), and
// mariadbd dies (SIGKILL).
func (tp *Topology) Crash() {
	tp.VIP.Blackhole(true)
	tp.Link.Blackhole(true)
	tp.Primary.Kill()
	tp.Link.CutAll()
}

// MoveTo points the address at s, as a virtual IP moved to another host:
// connections to the old one are reset (the new host knows nothing of
// them) and new ones reach s.
func (tp *Topology) MoveTo(s *mariadbtopo.Server) {
	tp.VIP.Retarget(s.Addr)
	tp.VIP.Blackhole(false)
}

// RootPool returns a pool of root's on sumd's database of s, for the
// checks (CheckAll); Cleanup closes it.
func RootPool(t testing.TB, s *mariadbtopo.Server) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", s.DSN("root", "", AppDatabase))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// StartClusterOn starts n instances on sumd's database of the MySQL
// server at addr, as StartCluster does on testenv's MySQL, with the Redis
// at redisURL ("" means the test Redis, "off" none) under a prefix of
// their own; db is the test's own pool on that server, for checks. Extra
// flags come last.
func StartClusterOn(t testing.TB, n int, addr string, db *sql.DB, redisURL string, extra ...string) *Cluster {
	t.Helper()
	return StartCluster(t, Options{
		Instances: n,
		DSN:       fmt.Sprintf("%s:%s@tcp(%s)/%s", AppUser, AppPassword, addr, AppDatabase),
		DB:        db,
		RedisURL:  redisURL,
		RedisDB:   RedisDBFailover,
		Args:      extra,
	})
}
