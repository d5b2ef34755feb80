package orders_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/idemsum/idemsum/idempotency"
	"github.com/idemsum/idemsum/internal/testenv"
)

// ordersBin is the binary TestMain built from ./cmd/orders.
var ordersBin string

// TestMain builds cmd/orders once (without -race: the binary under test
// is the one that ships), runs the tests and removes it.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "orders-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ordersBin = filepath.Join(dir, "orders")
	code := 1
	out, err := exec.Command("go", "build", "-o", ordersBin, "github.com/idemsum/idemsum/examples/orders/cmd/orders").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build ./cmd/orders: %v\n%s", err, out)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is the orders binary running as a process of its own.
type proc struct {
	tb   testing.TB
	args []string
	url  string // http://127.0.0.1:port, the same across restarts

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	log  bytes.Buffer
}

// startOrders starts the binary with args on a free port and waits until
// it serves; Cleanup kills it, and shows its log if tb failed.
func startOrders(tb testing.TB, args ...string) *proc {
	tb.Helper()
	port, err := testenv.FreePort()
	if err != nil {
		tb.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	p := &proc{tb: tb, args: append([]string{"-addr", addr}, args...), url: "http://" + addr}
	p.start()
	tb.Cleanup(func() {
		p.kill()
		if tb.Failed() {
			tb.Logf("orders log:\n%s", p.logTail())
		}
	})
	return p
}

func (p *proc) start() {
	p.tb.Helper()
	cmd := exec.Command(ordersBin, p.args...)
	cmd.Stdout, cmd.Stderr = p.writer(), p.writer()
	if err := cmd.Start(); err != nil {
		p.tb.Fatalf("start orders: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	poll(p.tb, 30*time.Second, "orders to serve /healthz", func() bool {
		select {
		case <-done:
			p.tb.Fatalf("orders exited at start:\n%s", p.logTail())
		default:
		}
		res, err := http.Get(p.url + "/healthz")
		if err == nil {
			res.Body.Close()
		}
		return err == nil && res.StatusCode == http.StatusOK
	})
}

// kill sends SIGKILL, if the process runs, and waits until it is gone.
func (p *proc) kill() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.tb.Errorf("orders did not exit within 10 s of SIGKILL")
	}
}

type lockedWriter struct{ p *proc }

func (w lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.log.Write(b)
}

func (p *proc) writer() io.Writer { return lockedWriter{p} }

func (p *proc) logTail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.log.Bytes()
	return string(b[max(0, len(b)-8192):])
}

// warehouse is a fake warehouse service: it counts each key's
// reservations, tells arrived of each, and while held keeps every request
// waiting until released (or its client goes away).
type warehouse struct {
	*httptest.Server
	arrived chan string // keys, as requests arrive

	mu      sync.Mutex
	calls   map[string]int
	release chan struct{} // nil: not held
}

func newWarehouse(tb testing.TB) *warehouse {
	w := &warehouse{arrived: make(chan string, 1024), calls: map[string]int{}}
	w.Server = httptest.NewServer(http.HandlerFunc(w.reserve))
	tb.Cleanup(func() { w.open(); w.Close() })
	return w
}

func (w *warehouse) reserve(rw http.ResponseWriter, r *http.Request) {
	key, err := idempotency.ParseHeader(r.Header.Get(idempotency.HeaderKey))
	if err != nil || r.URL.Path != "/reservations" {
		http.Error(rw, "bad reservation", http.StatusBadRequest)
		return
	}
	w.mu.Lock()
	w.calls[key]++
	release := w.release
	w.mu.Unlock()
	w.arrived <- key
	if release != nil {
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
	}
	rw.WriteHeader(http.StatusCreated)
}

// hold makes requests wait from now on; open lets them all go.
func (w *warehouse) hold() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.release == nil {
		w.release = make(chan struct{})
	}
}

func (w *warehouse) open() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.release != nil {
		close(w.release)
		w.release = nil
	}
}

func (w *warehouse) reservations(key string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.calls[key]
}

// answer is the outcome of one POST /orders.
type answer struct {
	status int
	header http.Header
	body   string
	err    error // no answer: the connection failed
}

var client = &http.Client{Timeout: 30 * time.Second}

// placeOrder sends POST /orders of body with key.
func placeOrder(url, key, body string) answer {
	req, err := http.NewRequest(http.MethodPost, url+"/orders", strings.NewReader(body))
	if err != nil {
		return answer{err: err}
	}
	req.Header.Set(idempotency.HeaderKey, idempotency.FormatHeader(key))
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return answer{status: res.StatusCode, header: res.Header, body: string(b), err: err}
}

// settle sends POST /orders of body with key until it is answered 201,
// as a client that retries with the same key does: after no answer, 409
// (the key is in flight, or held by a dead process until its lease ends),
// 502 or 503 (retry later). Any other answer, or none within a minute,
// fails tb.
func settle(tb testing.TB, url, key, body string) answer {
	tb.Helper()
	var last answer
	ok := waitFor(time.Minute, func() bool {
		last = placeOrder(url, key, body)
		switch {
		case last.err != nil:
			return false
		case last.status == http.StatusCreated:
			return true
		case last.status == http.StatusConflict || last.status == http.StatusBadGateway || last.status == http.StatusServiceUnavailable:
			return false
		}
		tb.Fatalf("POST %s: %d %s, want 201 or an answer to retry", key, last.status, last.body)
		return false
	})
	if !ok {
		tb.Fatalf("POST %s: no 201 within a minute; last: %d %q %v", key, last.status, last.body, last.err)
	}
	return last
}

// waitFor polls cond every 50 ms until it holds or d has passed.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}

func poll(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	if !waitFor(d, cond) {
		tb.Fatalf("timed out after %v waiting for %s", d, what)
	}
}

// rowsByKey returns how many orders each idempotency key placed.
func rowsByKey(tb testing.TB, db *sql.DB) map[string]int {
	tb.Helper()
	rows, err := db.QueryContext(context.Background(), "SELECT idem_key, COUNT(*) FROM orders GROUP BY idem_key")
	if err != nil {
		tb.Fatalf("count orders: %v", err)
	}
	defer rows.Close()
	n := map[string]int{}
	for rows.Next() {
		var key string
		var c int
		if err := rows.Scan(&key, &c); err != nil {
			tb.Fatal(err)
		}
		n[key] = c
	}
	if err := rows.Err(); err != nil && !errors.Is(err, sql.ErrNoRows) {
		tb.Fatal(err)
	}
	return n
}
