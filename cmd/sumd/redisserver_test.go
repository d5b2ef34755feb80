package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisServer is a redis-server of the test's own (Debian's package), on a
// free port, in a temporary directory, stopped in Cleanup: for faults the
// shared test Redis must not suffer (out of memory, read-only).
type redisServer struct {
	URL string
	C   *redis.Client
}

func startRedisServer(t *testing.T, args ...string) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("IDEMSUM_REQUIRE_SERVICES") == "1" {
			t.Fatal("redis-server is required (IDEMSUM_REQUIRE_SERVICES=1) but not installed")
		}
		t.Skip("redis-server is not installed")
	}
	port := freePort(t)
	dir := t.TempDir()
	cmd := exec.Command(bin, append([]string{"--port", fmt.Sprint(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir}, args...)...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	rs := &redisServer{URL: fmt.Sprintf("redis://127.0.0.1:%d/0", port)}
	rs.C = redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
	t.Cleanup(func() { rs.C.Close() })
	if !eventually(10*time.Second, func() bool { return rs.C.Ping(context.Background()).Err() == nil }) {
		t.Fatal("redis-server did not answer within 10s")
	}
	return rs
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// eventually polls cond until it holds or d passes.
func eventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}
