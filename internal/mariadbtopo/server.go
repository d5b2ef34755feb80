// Package mariadbtopo starts MariaDB servers of a test's own — Debian's
// mariadbd, each with its own data directory, port and socket under the
// test's temporary directory — and wires them into a primary and a
// replica with GTID replication, semi-synchronous or asynchronous, for
// tests that kill a primary and promote its replica (replication.go).
//
// Every wait polls against a deadline; nothing sleeps to synchronise.
// Cleanup kills the servers. When mariadbd or mariadb-install-db is not
// installed the test is skipped, or fails with IDEMSUM_REQUIRE_SERVICES=1.
package mariadbtopo

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/idemsum/idemsum/internal/testenv"
)

// startTimeout bounds a server's installation and start-up, on a loaded
// machine.
const startTimeout = 60 * time.Second

// Options configure one server.
type Options struct {
	ServerID int  // server_id, distinct within a topology; 0 means 1
	ReadOnly bool // start with read_only=ON, as a replica
	// SemiSyncPrimary readies the primary side of semi-synchronous
	// replication (wait point AFTER_SYNC, SemiSyncTimeout; 0 means 10
	// minutes, longer than any test, so that it never falls back to
	// asynchronous replication by itself). Replicate turns it on
	// (rpl_semi_sync_master_enabled) just before the replica connects:
	// with no replica a semi-synchronous primary holds every commit for
	// the whole timeout (rpl_semi_sync_master_wait_no_slave=ON).
	SemiSyncPrimary bool
	SemiSyncTimeout time.Duration
	// SemiSyncReplica turns on the replica side
	// (rpl_semi_sync_slave_enabled): it acknowledges each transaction
	// once it is in its relay log.
	SemiSyncReplica bool
	Args            []string // more mariadbd options, last
}

// Server is one running mariadbd. Its root user has no password over TCP.
type Server struct {
	Name string
	Addr string // 127.0.0.1:port
	Dir  string // holds data/, the socket, the pid file and error.log

	tb   testing.TB
	opts Options
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited
	root *sql.DB
}

// Start installs a fresh data directory and starts mariadbd on it with
// opts, and returns once root can run a query. Cleanup kills it (and shows
// its error log if the test failed).
func Start(tb testing.TB, name string, opts Options) *Server {
	tb.Helper()
	mariadbd, install := binaries(tb)
	dir := tb.TempDir()
	s := &Server{Name: name, Dir: dir, tb: tb, opts: opts}
	if err := os.Mkdir(s.tmpdir(), 0o700); err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, install, s.installArgs()...).CombinedOutput(); err != nil {
		tb.Fatalf("%s: mariadb-install-db: %v\n%s", name, err, out)
	}
	for attempt := 0; ; attempt++ {
		err := s.start(ctx, mariadbd, opts)
		if err == nil {
			break
		}
		if attempt == 2 || !strings.Contains(s.ErrorLog(4<<10), "already in use") {
			tb.Fatalf("%s: %v\n%s", name, err, s.ErrorLog(8<<10))
		}
	}
	tb.Cleanup(s.cleanup)
	return s
}

// binaries finds mariadbd and mariadb-install-db, or skips tb.
func binaries(tb testing.TB) (mariadbd, install string) {
	tb.Helper()
	find := func(name string) string {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		for _, d := range []string{"/usr/sbin", "/usr/bin"} {
			if p := filepath.Join(d, name); isExecutable(p) {
				return p
			}
		}
		if os.Getenv("IDEMSUM_REQUIRE_SERVICES") == "1" {
			tb.Fatalf("%s is required (IDEMSUM_REQUIRE_SERVICES=1) but not installed (apt-get install mariadb-server)", name)
		}
		tb.Skipf("%s is not installed (apt-get install mariadb-server)", name)
		return ""
	}
	return find("mariadbd"), find("mariadb-install-db")
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// small are the options that keep a test server small and its answers
// durable: each used for install and start alike.
var small = []string{
	"--innodb-buffer-pool-size=32M",
	"--innodb-log-file-size=16M",
	"--performance-schema=OFF",
	"--skip-name-resolve",
}

func (s *Server) installArgs() []string {
	args := []string{"--no-defaults", "--datadir=" + filepath.Join(s.Dir, "data"),
		"--tmpdir=" + s.tmpdir(), "--auth-root-authentication-method=normal", "--skip-test-db"}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	return append(args, small...)
}

// args are mariadbd's options for opts on port.
func (s *Server) args(port int, opts Options) []string {
	args := []string{
		"--no-defaults",
		"--datadir=" + filepath.Join(s.Dir, "data"),
		"--tmpdir=" + s.tmpdir(),
		"--port=" + strconv.Itoa(port),
		"--bind-address=127.0.0.1",
		"--socket=" + s.socket(),
		"--pid-file=" + filepath.Join(s.Dir, "mariadbd.pid"),
		"--log-error=" + filepath.Join(s.Dir, "error.log"),
		"--server-id=" + strconv.Itoa(max(opts.ServerID, 1)),
		"--log-bin=binlog", "--log-slave-updates", "--binlog-format=ROW", "--relay-log=relay",
		"--gtid-strict-mode=ON",
		"--sync-binlog=1", "--innodb-flush-log-at-trx-commit=1",
		"--max-connections=300",
		"--read-only=" + onOff(opts.ReadOnly),
	}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	args = append(args, small...)
	if opts.SemiSyncPrimary {
		timeout := opts.SemiSyncTimeout
		if timeout == 0 {
			timeout = 10 * time.Minute
		}
		args = append(args, "--rpl-semi-sync-master-enabled=OFF",
			"--rpl-semi-sync-master-wait-point=AFTER_SYNC",
			"--rpl-semi-sync-master-timeout="+strconv.FormatInt(timeout.Milliseconds(), 10))
	}
	if opts.SemiSyncReplica {
		args = append(args, "--rpl-semi-sync-slave-enabled=ON")
	}
	return append(args, opts.Args...)
}

func onOff(b bool) string {
	if b {
		return "ON"
	}
	return "OFF"
}

// tmpdir is the server's own directory for temporary files: mariadbd
// names them after something other servers share, and two installations
// at once in one tmpdir fail.
func (s *Server) tmpdir() string { return filepath.Join(s.Dir, "tmp") }

// socket returns a Unix socket path in s.Dir, or in a shorter temporary
// directory when that would exceed the 107 bytes a socket path may have.
func (s *Server) socket() string {
	p := filepath.Join(s.Dir, "mariadbd.sock")
	if len(p) < 100 {
		return p
	}
	d, err := os.MkdirTemp("", "mdb")
	if err != nil {
		return p
	}
	s.tb.Cleanup(func() { os.RemoveAll(d) })
	return filepath.Join(d, "s")
}

// start runs mariadbd on a free port and waits until root can query it.
func (s *Server) start(ctx context.Context, bin string, opts Options) error {
	port, err := testenv.FreePort()
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, s.args(port, opts)...)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start mariadbd: %w", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.cmd, s.done, s.Addr = cmd, done, net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	root, err := sql.Open("mysql", s.DSN("root", "", ""))
	if err != nil {
		return err
	}
	for {
		if err := root.PingContext(ctx); err == nil {
			s.root = root
			return nil
		}
		select {
		case <-done:
			root.Close()
			return fmt.Errorf("mariadbd exited at start-up: %v", cmd.ProcessState)
		case <-ctx.Done():
			root.Close()
			cmd.Process.Kill()
			<-done
			return fmt.Errorf("mariadbd did not answer within %v", startTimeout)
		case <-time.After(20 * time.Millisecond): // the polling interval
		}
	}
}

// DSN returns a go-sql-driver DSN for user (with password) on s and
// database db ("" for none).
func (s *Server) DSN(user, password, db string) string {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = user, password, "tcp", s.Addr, db
	cfg.Timeout = 3 * time.Second
	return cfg.FormatDSN()
}

// Root returns a pool of root connections to s, without a database
// chosen, closed when the server is killed.
func (s *Server) Root() *sql.DB { return s.root }

// Exec runs each statement as root, in order, and stops at the first
// error.
func (s *Server) Exec(ctx context.Context, stmts ...string) error {
	for _, q := range stmts {
		if _, err := s.root.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %s: %w", s.Name, q, err)
		}
	}
	return nil
}

// Pid returns the process id of mariadbd.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Kill sends SIGKILL to mariadbd, as a crash of its host would stop it,
// and waits until the process is gone.
func (s *Server) Kill() {
	s.tb.Helper()
	s.cmd.Process.Kill()
	select {
	case <-s.done:
	case <-time.After(startTimeout):
		s.tb.Fatalf("%s: mariadbd did not exit within %v of SIGKILL", s.Name, startTimeout)
	}
	s.root.Close()
}

// ErrorLog returns the last n bytes of mariadbd's error log.
func (s *Server) ErrorLog(n int) string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "error.log"))
	return string(b[max(0, len(b)-n):])
}

func (s *Server) cleanup() {
	select {
	case <-s.done:
	default:
		s.cmd.Process.Kill()
		<-s.done
		s.root.Close()
	}
	if s.tb.Failed() {
		s.tb.Logf("error log of %s (last 8 KiB):\n%s", s.Name, s.ErrorLog(8<<10))
	}
}
