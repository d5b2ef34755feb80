package e2e_test

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mysqldrv "github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"

	"idemsum/idempotency/redisstore"
	"idemsum/internal/faultproxy"
	"idemsum/internal/testenv"
)

// leaseTTL is every instance's -lease-ttl: short, so that claims of dead
// or frozen instances expire fast.
const leaseTTL = time.Second

// keyTTL is every instance's -key-ttl unless a test sets its own: longer
// than any test, short enough that leftovers of a crashed run expire.
const keyTTL = 10 * time.Minute

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
	// 0 means redisDBShared.
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
	// binary than the one TestMain built (another release of it).
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
}

// StartCluster starts opts.Instances instances, all healthy on return.
// Cleanup kills them (SIGKILL) and shows their stderr if the test failed.
func StartCluster(t testing.TB, opts Options) *Cluster {
	t.Helper()
	c := &Cluster{DSN: opts.DSN, DB: opts.DB, RedisURL: opts.RedisURL}
	if c.DSN == "" {
		c.DSN = testenv.MySQL(t)
	}
	c.Prefix = cmp.Or(opts.Prefix, "idemsum:e2e:"+testenv.Unique()+":")
	if c.RedisURL == "" {
		testenv.Redis(t) // skips (or fails in CI) when Redis is absent
		c.RedisURL = redisURLDB(cmp.Or(opts.RedisDB, redisDBShared))
		c.Redis = newRedisClient(t, c.RedisURL)
		usedPrefixes.Store(c.Prefix, c.RedisURL)
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
		"-key-ttl", keyTTL.String(),
		"-lease-ttl", leaseTTL.String(),
		"-mysql-max-conns", "8",
		"-shutdown-timeout", "2s",
	}
	args = append(args, opts.Args...)
	for i := range opts.Instances {
		in := &Instance{t: t, Name: fmt.Sprintf("sumd%d", i), args: args, log: &logBuffer{}, bin: opts.InstanceBinary[i]}
		if opts.MySQLProxyEach {
			var dsn string
			in.MySQLProxy, dsn = proxyDSN(t, c.DSN)
			in.args = append(slices.Clip(args), "-mysql-dsn", dsn) // the last one counts
		}
		in.args = append(slices.Clip(in.args), opts.InstanceArgs[i]...)
		t.Cleanup(in.cleanup)
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

// ClaimName returns the Redis name of key's claim (redisstore's layout).
func (c *Cluster) ClaimName(key string) string { return redisstore.ClaimName(c.KeyPrefix, key) }

// RecordName returns the Redis name of key's record.
func (c *Cluster) RecordName(key string) string { return redisstore.RecordName(c.KeyPrefix, key) }

// redisClient returns the client the checks read the instances' Redis
// through, or nil.
func (c *Cluster) redisClient() redis.UniversalClient {
	switch {
	case c.Redis != nil:
		return c.Redis
	case c.RedisCluster != nil:
		return c.RedisCluster
	}
	return nil
}

// startProxy starts a fault proxy to target that Cleanup closes.
func startProxy(t testing.TB, target string) *faultproxy.Proxy {
	t.Helper()
	p, err := faultproxy.New(target)
	if err != nil {
		t.Fatalf("fault proxy to %s: %v", target, err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// proxyDSN starts a fault proxy to the MySQL server of dsn and returns it
// with dsn rewritten to go through it.
func proxyDSN(t testing.TB, dsn string) (*faultproxy.Proxy, string) {
	t.Helper()
	cfg, err := mysqldrv.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("parse DSN: %v", err)
	}
	p := startProxy(t, cfg.Addr)
	cfg.Addr = p.Addr()
	return p, cfg.FormatDSN()
}

// proxyURL starts a fault proxy to the Redis server of u and returns it
// with u rewritten to go through it.
func proxyURL(t testing.TB, u string) (*faultproxy.Proxy, string) {
	t.Helper()
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatalf("parse Redis URL: %v", err)
	}
	target := parsed.Host
	if parsed.Port() == "" {
		target = net.JoinHostPort(parsed.Hostname(), "6379")
	}
	p := startProxy(t, target)
	parsed.Host = p.Addr()
	return p, parsed.String()
}

func newRedisClient(t testing.TB, u string) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(u)
	if err != nil {
		t.Fatalf("parse %s: %v", u, err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
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

// Instance is one sumd process, restartable; its stderr over all its runs
// is kept in log.
type Instance struct {
	t          testing.TB
	Name       string
	args       []string
	log        *logBuffer
	MySQLProxy *faultproxy.Proxy // with Options.MySQLProxyEach

	mu      sync.Mutex
	bin     string // the binary of the next start; "" means sumdBin
	cmd     *exec.Cmd
	addr    string
	done    chan struct{} // closed when the process has exited
	killed  bool          // the test ended the process on purpose
	stopped bool          // SIGSTOPped
	runs    int
}

// URL returns the base URL of the current run, such as http://127.0.0.1:4711.
func (in *Instance) URL() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return "http://" + in.addr
}

// Pid returns the process id of the current run.
func (in *Instance) Pid() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.cmd.Process.Pid
}

// Live reports whether the process runs and is not frozen.
func (in *Instance) Live() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return !in.killed && !in.stopped
}

// start runs the binary, reads its address from stdout and polls /healthz.
func (in *Instance) start() {
	t := in.t
	t.Helper()
	in.mu.Lock()
	in.runs++
	fmt.Fprintf(in.log, "==== %s run %d\n", in.Name, in.runs)
	addrs := make(chan string, 1)
	cmd := exec.Command(cmp.Or(in.bin, sumdBin), in.args...)
	cmd.Stdout = &addrWriter{addrs: addrs}
	cmd.Stderr = in.log
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		in.mu.Unlock()
		t.Fatalf("start %s: %v", in.Name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	in.cmd, in.done, in.killed, in.stopped = cmd, done, false, false
	in.mu.Unlock()

	select {
	case addr := <-addrs:
		in.mu.Lock()
		in.addr = addr
		in.mu.Unlock()
	case <-done:
		t.Fatalf("%s exited before listening: %v\n%s", in.Name, cmd.ProcessState, in.log.Tail(8<<10))
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not print its address within 60s\n%s", in.Name, in.log.Tail(8<<10))
	}
	in.waitHealthy(10 * time.Second)
}

// waitHealthy polls /healthz until it answers 200 or d passes.
func (in *Instance) waitHealthy(d time.Duration) {
	in.t.Helper()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(d)
	for {
		resp, err := client.Get(in.URL() + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			in.t.Fatalf("%s: /healthz not 200 within %v (last error %v)\n%s", in.Name, d, err, in.log.Tail(8<<10))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// signal sends sig to the test's own process of in.
func (in *Instance) signal(sig syscall.Signal) {
	in.t.Helper()
	in.mu.Lock()
	defer in.mu.Unlock()
	if err := in.cmd.Process.Signal(sig); err != nil {
		in.t.Fatalf("%s: signal %v: %v", in.Name, sig, err)
	}
	switch sig {
	case syscall.SIGKILL, syscall.SIGTERM:
		in.killed = true
	case syscall.SIGSTOP:
		in.stopped = true
	case syscall.SIGCONT:
		in.stopped = false
	}
}

// Kill sends SIGKILL and waits until the process is gone.
func (in *Instance) Kill() {
	in.t.Helper()
	in.signal(syscall.SIGKILL)
	in.waitExit(10 * time.Second)
}

// Terminate sends SIGTERM, waits up to d for the process to exit, and
// returns how it exited.
func (in *Instance) Terminate(d time.Duration) *os.ProcessState {
	in.t.Helper()
	in.signal(syscall.SIGTERM)
	in.waitExit(d)
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.cmd.ProcessState
}

// Stop freezes the process with SIGSTOP.
func (in *Instance) Stop() { in.t.Helper(); in.signal(syscall.SIGSTOP) }

// Cont resumes a frozen process with SIGCONT.
func (in *Instance) Cont() { in.t.Helper(); in.signal(syscall.SIGCONT) }

// Restart kills the process if it still runs and starts a new one with
// the same settings (on a new port).
func (in *Instance) Restart() {
	in.t.Helper()
	in.mu.Lock()
	running := !in.killed
	in.mu.Unlock()
	if running {
		in.Kill()
	}
	in.start()
}

// RestartWith is Restart with args added after the instance's flags from
// now on (the last of a repeated flag counts): a change of configuration.
func (in *Instance) RestartWith(args ...string) {
	in.t.Helper()
	in.mu.Lock()
	in.args = append(slices.Clip(in.args), args...)
	in.mu.Unlock()
	in.Restart()
}

func (in *Instance) waitExit(d time.Duration) {
	in.t.Helper()
	in.mu.Lock()
	done := in.done
	in.mu.Unlock()
	select {
	case <-done:
	case <-time.After(d):
		in.t.Fatalf("%s did not exit within %v", in.Name, d)
	}
}

// cleanup reports an instance that died on its own or logged a panic,
// kills the process, and shows its stderr if the test failed.
func (in *Instance) cleanup() {
	in.mu.Lock()
	cmd, done, killed := in.cmd, in.done, in.killed
	in.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-done:
		if !killed {
			in.t.Errorf("%s exited on its own: %v", in.Name, cmd.ProcessState)
		}
	default:
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
	}
	if lines := in.log.Crashes(); len(lines) > 0 {
		in.t.Errorf("%s logged a crash or panic:\n%s", in.Name, strings.Join(lines, "\n"))
	}
	if in.t.Failed() {
		in.t.Logf("stderr of %s (last 16 KiB):\n%s", in.Name, in.log.Tail(16<<10))
	}
}

// addrWriter is an instance's stdout: it sends the address of the
// "sumd listening on http://ADDR" line to addrs, once.
type addrWriter struct {
	buf   []byte
	addrs chan string
	sent  bool
}

func (w *addrWriter) Write(p []byte) (int, error) {
	if w.sent {
		return len(p), nil
	}
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(w.buf[:i])
		w.buf = w.buf[i+1:]
		if addr, ok := strings.CutPrefix(line, "sumd listening on http://"); ok {
			w.addrs <- strings.TrimSpace(addr)
			w.sent = true
			return len(p), nil
		}
	}
}

// logBuffer keeps the last maxLog bytes of an instance's stderr and every
// line that shows a crash.
type logBuffer struct {
	mu      sync.Mutex
	buf     []byte
	partial []byte
	crashes []string
}

const maxLog = 1 << 20

var crashMarkers = []string{"panic", "fatal error", "DATA RACE", "SIGSEGV"}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > 2*maxLog {
		b.buf = append([]byte(nil), b.buf[len(b.buf)-maxLog:]...)
	}
	b.partial = append(b.partial, p...)
	for {
		i := bytes.IndexByte(b.partial, '\n')
		if i < 0 {
			break
		}
		line := string(b.partial[:i])
		b.partial = b.partial[i+1:]
		for _, m := range crashMarkers {
			if strings.Contains(line, m) && len(b.crashes) < 50 {
				b.crashes = append(b.crashes, line)
				break
			}
		}
	}
	return len(p), nil
}

// Tail returns the last n bytes written.
func (b *logBuffer) Tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf[max(0, len(b.buf)-n):])
}

// Crashes returns the lines that show a panic or a runtime crash.
func (b *logBuffer) Crashes() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.crashes...)
}

// waitFor polls cond every 10ms until it holds or d passes, and reports
// whether it held.
func waitFor(ctx context.Context, d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}
