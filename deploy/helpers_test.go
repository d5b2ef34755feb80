package deploy_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/idemsum/idemsum/internal/testenv"
)

// buildDir holds the sumd built for this package's tests; TestMain removes it.
var buildDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "idemsum-deploy-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buildDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// repoRoot is the main module's directory, the parent of deploy/.
func repoRoot(tb testing.TB) string {
	tb.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		tb.Fatal(err)
	}
	return root
}

var sumdBuild struct {
	once sync.Once
	path string
	err  error
}

// sumdBinary builds cmd/sumd once, as the image has it: static
// (CGO_ENABLED=0), -trimpath, stripped.
func sumdBinary(tb testing.TB) string {
	tb.Helper()
	sumdBuild.once.Do(func() {
		path := filepath.Join(buildDir, "sumd")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", path, "./cmd/sumd")
		cmd.Dir = repoRoot(tb)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			sumdBuild.err = fmt.Errorf("go build ./cmd/sumd: %v\n%s", err, out)
			return
		}
		sumdBuild.path = path
	})
	if sumdBuild.err != nil {
		tb.Fatal(sumdBuild.err)
	}
	return sumdBuild.path
}

// needTool returns the path of program name, or skips tb (fails it under
// IDEMSUM_REQUIRE_SERVICES=1) when it is not installed.
func needTool(tb testing.TB, name, pkg string) string {
	tb.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		testenv.Missing(tb, fmt.Sprintf("%s is not installed (scripts/tools.sh installs Debian's %s)", name, pkg))
	}
	return path
}

// flagInfo is one of sumd's flags as `sumd -h` prints it.
type flagInfo struct {
	Flag, Env, Default string
}

var flagLine = regexp.MustCompile(`(?m)^  -([a-z0-9-]+)[^\n]*\n\s+[^\n]*\(env (SUM_[A-Z0-9_]+)\)(?: \(default (.*)\))?$`)

// sumdFlags returns sumd's flags by environment variable, with their
// defaults, from the built binary's own -h: what the manifests may set.
func sumdFlags(tb testing.TB, command ...string) map[string]flagInfo {
	tb.Helper()
	out, _ := exec.Command(sumdBinary(tb), append(command, "-h")...).CombinedOutput() // -h exits non-zero
	flags := map[string]flagInfo{}
	for _, m := range flagLine.FindAllStringSubmatch(string(out), -1) {
		def := m[3]
		if s, err := strconv.Unquote(def); err == nil {
			def = s
		}
		flags[m[2]] = flagInfo{Flag: m[1], Env: m[2], Default: def}
	}
	if _, ok := flags["SUM_MYSQL_DSN"]; !ok {
		tb.Fatalf("sumd %s -h names no SUM_MYSQL_DSN; its output:\n%s", strings.Join(command, " "), out)
	}
	return flags
}

// setting returns what sumd uses for env given the environment env: its
// value there, else the flag's default; ok is false when sumd has no such
// flag.
func setting(flags map[string]flagInfo, env map[string]string, name string) (string, bool) {
	if v, ok := env[name]; ok && v != "" {
		return v, true
	}
	f, ok := flags[name]
	return f.Default, ok
}

// services returns settings that give a sumd a MySQL database and a Redis
// prefix of tb's own on the test services, and a free address to listen on.
func services(tb testing.TB) map[string]string {
	tb.Helper()
	dsn := testenv.MySQL(tb)
	_, prefix := testenv.Redis(tb)
	port, err := testenv.FreePort()
	if err != nil {
		tb.Fatal(err)
	}
	return map[string]string{
		"SUM_MYSQL_DSN":    dsn,
		"SUM_REDIS_URL":    testenv.RedisURL(),
		"SUM_REDIS_PREFIX": prefix,
		"SUM_HTTP_ADDR":    fmt.Sprintf("127.0.0.1:%d", port),
	}
}

// instance is a sumd process a test started.
type instance struct {
	URL  string
	cmd  *exec.Cmd
	logs *testenv.Buffer
	done chan struct{}
	err  error
}

// start runs cmd (a sumd; its environment set) and waits until it
// listens at addr and answers /readyz 200. In Cleanup it stops it with
// SIGTERM if it still runs. Its output is logged when the test fails.
func start(tb testing.TB, cmd *exec.Cmd, addr string) *instance {
	tb.Helper()
	in := &instance{URL: "http://" + addr, cmd: cmd, logs: &testenv.Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = in.logs, in.logs
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL // never outlives the test binary
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", cmd.Path, err)
	}
	go func() { in.err = cmd.Wait(); close(in.done) }()
	tb.Cleanup(func() {
		in.stop(tb)
		if tb.Failed() {
			tb.Logf("sumd's output:\n%s", in.logs.String())
		}
	})
	in.waitReady(tb)
	return in
}

// waitReady polls /readyz until it answers 200, for at most a minute (a
// busy machine), failing if the process exits first.
func (in *instance) waitReady(tb testing.TB) {
	tb.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		status, body, err := get(in.URL + "/readyz")
		if err == nil && status == http.StatusOK {
			return
		}
		select {
		case <-in.done:
			tb.Fatalf("sumd exited before it was ready: %v\n%s", in.err, in.logs.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tb.Fatalf("sumd not ready after a minute: last /readyz %d %q %v", status, body, err)
		}
	}
}

// stop sends SIGTERM and waits up to a minute for the exit, which must be
// clean; then SIGKILL.
func (in *instance) stop(tb testing.TB) {
	tb.Helper()
	select {
	case <-in.done:
		return
	default:
	}
	in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-in.done:
		if in.err != nil {
			tb.Errorf("sumd exited with %v after SIGTERM", in.err)
		}
	case <-time.After(time.Minute):
		in.cmd.Process.Kill()
		<-in.done
		tb.Errorf("sumd still running a minute after SIGTERM")
	}
}

// get fetches url with a bounded wait and returns the status and body.
func get(url string) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	return do(req)
}

// do sends req and returns the status and body.
func do(req *http.Request) (int, string, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// envList turns settings into an environment for a process.
func envList(settings map[string]string) []string {
	var env []string
	for k, v := range settings {
		env = append(env, k+"="+v)
	}
	return env
}
