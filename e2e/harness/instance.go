package harness

import (
	"bytes"
	"cmp"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/idemsum/idemsum/internal/faultproxy"
)

// Instance is one sumd process of a Cluster, restartable; its stderr
// over all its runs is kept (Log). Its methods fail the test that started
// it (with Fatal: call them from that test's goroutine).
type Instance struct {
	t          testing.TB
	c          *Cluster
	Name       string
	args       []string
	log        *logBuffer
	MySQLProxy *faultproxy.Proxy // with Options.MySQLProxyEach

	mu      sync.Mutex
	bin     string // the binary of the next start; "" means the one Main built
	other   bool   // the current run is of another binary (another release)
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
	cmd := exec.Command(cmp.Or(in.bin, Sumd()), in.args...)
	// No drain before a stop (an environment variable, which releases
	// without -shutdown-delay ignore): the tests stop instances at chosen
	// moments of their load; cmd/sumd's TestDrainOnSIGTERM tests the drain.
	cmd.Env = append(os.Environ(), "SUM_SHUTDOWN_DELAY=0")
	cmd.Stdout = &addrWriter{addrs: addrs}
	cmd.Stderr = in.log
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		in.mu.Unlock()
		t.Fatalf("start %s: %v", in.Name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	in.cmd, in.done, in.killed, in.stopped, in.other = cmd, done, false, false, in.bin != ""
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

// Signal sends sig to the current run of in and notes what it does: a
// SIGKILL or SIGTERM ends it (Live is false, and Cleanup does not report
// the exit), SIGSTOP freezes it until SIGCONT.
func (in *Instance) Signal(sig syscall.Signal) {
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
	in.Signal(syscall.SIGKILL)
	in.waitExit(10 * time.Second)
}

// Terminate sends SIGTERM, waits up to d for the process to exit, and
// returns how it exited.
func (in *Instance) Terminate(d time.Duration) *os.ProcessState {
	in.t.Helper()
	in.Signal(syscall.SIGTERM)
	in.waitExit(d)
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.cmd.ProcessState
}

// Stop freezes the process with SIGSTOP.
func (in *Instance) Stop() { in.t.Helper(); in.Signal(syscall.SIGSTOP) }

// Cont resumes a frozen process with SIGCONT.
func (in *Instance) Cont() { in.t.Helper(); in.Signal(syscall.SIGCONT) }

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

// SetBinary makes the next start of in (Restart) run the sumd binary bin
// ("" for the one Main built): another release of it.
func (in *Instance) SetBinary(bin string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.bin = bin
}

// Log returns what the instance wrote to stderr over all its runs (its
// last MiB at least).
func (in *Instance) Log() string { return in.log.Tail(maxLog) }

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

// logBuffer keeps the last maxLog bytes (at least) of an instance's
// stderr and every line that shows a crash.
type logBuffer struct {
	mu      sync.Mutex
	buf     []byte
	partial []byte
	crashes []string
}

const maxLog = 1 << 20

// crashMarkers are what a line that shows a crash contains.
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
