package redistopo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idemsum/idemsum/internal/testenv"
)

// Node is one redis-server (or redis-sentinel) process of a test.
type Node struct {
	Addr string // 127.0.0.1:port
	Dir  string // its working directory, holding its log and config

	tb     testing.TB
	cmd    *exec.Cmd
	done   chan struct{} // closed when the process has exited
	client *redis.Client

	mu     sync.Mutex
	killed bool
}

// StartNode starts a redis-server on a free port with args after the
// topology's own (--port, --bind, no persistence, a log file), and waits
// until it answers PING. Cleanup kills it.
func StartNode(tb testing.TB, args ...string) *Node {
	tb.Helper()
	return startNode(tb, Require(tb), "", dataConf(nil), args...)
}

// dataConf returns the config of a data node (not a sentinel): no
// persistence, and the lines that more returns for its port.
func dataConf(more func(port int) string) func(port int) string {
	return func(port int) string {
		conf := "save \"\"\nappendonly no\nrepl-diskless-sync-delay 0\n"
		if more != nil {
			conf += more(port)
		}
		return conf
	}
}

// startNode runs bin (redis-server or redis-sentinel) with the config file
// that conf returns for the chosen port, then args; a port taken meanwhile
// by someone else is tried again.
func startNode(tb testing.TB, bin, name string, conf func(port int) string, args ...string) *Node {
	tb.Helper()
	var last error
	for range 3 {
		n, err := tryNode(tb, bin, conf, args)
		if err == nil {
			return n
		}
		last = err
	}
	tb.Fatalf("start %s %s: %v", filepath.Base(bin), name, last)
	return nil
}

func tryNode(tb testing.TB, bin string, conf func(port int) string, args []string) (*Node, error) {
	port, err := testenv.FreePort()
	if err != nil {
		return nil, err
	}
	dir := tb.TempDir()
	path := filepath.Join(dir, "node.conf")
	if err := os.WriteFile(path, []byte(conf(port)), 0o600); err != nil {
		return nil, err
	}
	argv := []string{path, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--dir", dir,
		"--logfile", filepath.Join(dir, "redis.log"), "--daemonize", "no"}
	n := &Node{Addr: fmt.Sprintf("127.0.0.1:%d", port), Dir: dir, tb: tb, done: make(chan struct{})}
	n.cmd = exec.Command(bin, append(argv, args...)...)
	n.cmd.Dir = dir
	n.cmd.SysProcAttr = sysProcAttr()
	if err := n.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { n.cmd.Wait(); close(n.done) }()
	n.client = redis.NewClient(&redis.Options{Addr: n.Addr, DialTimeout: time.Second, MaxRetries: -1})
	err = poll(10*time.Second, "PING "+n.Addr, func(ctx context.Context) error {
		select {
		case <-n.done:
			return errExited
		default:
		}
		return n.client.Ping(ctx).Err()
	})
	if err != nil {
		n.stop()
		return nil, fmt.Errorf("%w\n%s", err, n.Log())
	}
	tb.Cleanup(n.stop)
	return n, nil
}

var errExited = errors.New("the process exited")

// Client returns a client of this node alone (no retries), closed in
// Cleanup.
func (n *Node) Client() *redis.Client { return n.client }

// Host returns the node's host, 127.0.0.1.
func (n *Node) Host() string { h, _, _ := net.SplitHostPort(n.Addr); return h }

// Port returns the node's port.
func (n *Node) Port() string { _, p, _ := net.SplitHostPort(n.Addr); return p }

// Kill sends SIGKILL and waits until the process is gone.
func (n *Node) Kill() {
	n.tb.Helper()
	n.mu.Lock()
	n.killed = true
	n.mu.Unlock()
	n.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		n.tb.Fatalf("redis node %s did not exit within 10s of SIGKILL", n.Addr)
	}
}

// Alive reports whether the node has not been killed.
func (n *Node) Alive() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return !n.killed
}

// Log returns the last 4 KiB of the node's log file.
func (n *Node) Log() string {
	b, _ := os.ReadFile(filepath.Join(n.Dir, "redis.log"))
	return string(b[max(0, len(b)-4096):])
}

// Role returns "master", "slave" or "sentinel" (the first element of ROLE).
func (n *Node) Role(ctx context.Context) (string, error) {
	v, err := n.client.Do(ctx, "ROLE").Slice()
	if err != nil {
		return "", err
	}
	role, _ := v[0].(string)
	return role, nil
}

// info returns the field of INFO section, such as
// info(ctx, "replication", "master_link_status").
func (n *Node) info(ctx context.Context, section, field string) (string, error) {
	s, err := n.client.Info(ctx, section).Result()
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(s, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("INFO %s of %s has no %s", section, n.Addr, field)
}

// stop kills the process if it runs and closes the client; it shows the
// node's log if the test failed.
func (n *Node) stop() {
	n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.done
	n.client.Close()
	if n.tb.Failed() {
		n.tb.Logf("log of redis node %s (last 4 KiB):\n%s", n.Addr, n.Log())
	}
}
