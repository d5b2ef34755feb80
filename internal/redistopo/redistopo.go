// Package redistopo starts real Redis topologies for tests — single
// servers, Redis Cluster and Redis Sentinel — from Debian's redis-server,
// redis-cli and redis-sentinel, each node on free ports of its own in a
// t.TempDir(), all killed in Cleanup. It waits for a topology to settle by
// asking the servers (CLUSTER INFO, CLUSTER SLOTS, ROLE, SENTINEL
// get-master-addr-by-name) with a deadline, never by sleeping.
//
// When a binary is missing the test is skipped with a message saying so,
// unless IDEMSUM_REQUIRE_SERVICES=1 (CI), which makes it a failure. With
// REDISTOPO_DEBUG set, every unmet condition of a wait is printed.
package redistopo

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"
)

// NodeTimeout is the cluster-node-timeout of a Cluster and Sentinel's
// down-after-milliseconds: how long a dead master goes unnoticed.
const NodeTimeout = time.Second

// Require skips tb (or fails it when IDEMSUM_REQUIRE_SERVICES=1) unless
// redis-server and redis-cli are installed, and returns redis-server's
// path.
func Require(tb testing.TB) string {
	tb.Helper()
	bin := lookPath(tb, "redis-server")
	lookPath(tb, "redis-cli")
	return bin
}

func lookPath(tb testing.TB, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("IDEMSUM_REQUIRE_SERVICES") == "1" {
		tb.Fatalf("%s is required (IDEMSUM_REQUIRE_SERVICES=1) but not installed (apt-get install redis-server redis-tools redis-sentinel)", name)
	}
	tb.Skipf("%s is not installed (apt-get install redis-server redis-tools redis-sentinel)", name)
	return ""
}

// poll calls cond every 20ms until it returns nil or d passes, and returns
// its last error, wrapped with what was awaited.
func poll(d time.Duration, what string, cond func(ctx context.Context) error) error {
	deadline := time.Now().Add(d)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := cond(ctx)
		cancel()
		if err == nil {
			return nil
		}
		if os.Getenv("REDISTOPO_DEBUG") != "" {
			fmt.Println(time.Now().Format("15:04:05.000"), what, err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not within %v: %w", what, d, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
