package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/idemsum/idemsum/internal/testenv"
)

// TestShutdownLosesNoAcknowledgedAddition stops sumd (as on SIGTERM) in
// the middle of a load and checks that every addition answered 200 is in
// MySQL, that the total is the sum of the recorded additions, and that no
// claim is left behind in Redis.
func TestShutdownLosesNoAcknowledgedAddition(t *testing.T) {
	t.Parallel()
	dsn := testenv.MySQL(t)
	rdb, prefix := testenv.Redis(t)
	in := startWith(t, dsn, prefix)

	var mu sync.Mutex
	acked := map[string]uint64{}
	var n atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second}
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key, number := fmt.Sprintf("w%d-%d", w, i), uint64(w*1000+i+1)
				req, _ := http.NewRequest(http.MethodPost, in.URL+"/sum", strings.NewReader(fmt.Sprintf(`{"number":%d}`, number)))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Idempotency-Key", key)
				resp, err := client.Do(req)
				if err != nil {
					return // the server is gone
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					mu.Lock()
					acked[key] = number
					mu.Unlock()
					n.Add(1)
				}
			}
		}(w)
	}
	testenv.Eventually(30*time.Second, func() bool { return n.Load() >= 300 }) // checked below, after the stop
	if err := in.stop(t); err != nil {
		t.Errorf("run returned %v, want a clean shutdown", err)
	}
	close(stop)
	wg.Wait()
	if n.Load() < 300 {
		t.Fatalf("only %d additions acknowledged before the deadline", n.Load())
	}

	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for key, number := range acked {
		var got uint64
		if err := db.QueryRow("SELECT number FROM sum_ledger WHERE idem_key = ?", key).Scan(&got); err != nil || got != number {
			t.Fatalf("acknowledged key %s: got number %d (%v), want %d", key, got, err, number)
		}
	}
	var total, sum string
	if err := db.QueryRow("SELECT t.total, (SELECT COALESCE(SUM(number), 0) FROM sum_ledger) FROM sum_total t WHERE id = 1").Scan(&total, &sum); err != nil {
		t.Fatal(err)
	}
	if total != sum {
		t.Errorf("total got %s, want the sum of recorded additions %s", total, sum)
	}
	claims, err := rdb.Keys(context.Background(), prefix+"*:claim:*").Result() // prefix, deployment id, claim:K
	if err != nil || len(claims) != 0 {
		t.Errorf("claims left in Redis after shutdown: %v (%v)", claims, err)
	}
	t.Logf("%d additions acknowledged before shutdown; total %s", len(acked), total)
}

// TestMain runs sumd's main instead of the tests when SUMD_TEST_MAIN=1, so
// that a test that needs a real process (signals, a port that closes) runs
// this test binary as sumd (sumdProcess).
func TestMain(m *testing.M) {
	if os.Getenv("SUMD_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// process is sumd running as a process of its own.
type process struct {
	cmd    *exec.Cmd
	URL    string
	stderr *testenv.Buffer // log_test.go
	exited chan struct{}
}

// sumdProcess starts this test binary as sumd on a fresh database and
// Redis prefix with extra flags, and returns once it serves.
func sumdProcess(t *testing.T, extra ...string) *process {
	t.Helper()
	return sumdProcessEnv(t, nil, extra...)
}

// sumdProcessEnv is sumdProcess with env ("NAME=value") added to the
// process's environment.
func sumdProcessEnv(t *testing.T, env []string, extra ...string) *process {
	t.Helper()
	_, prefix := testenv.Redis(t)
	args := append([]string{"-http-addr", "127.0.0.1:0", "-mysql-dsn", testenv.MySQL(t),
		"-redis-url", testenv.RedisURL(), "-redis-prefix", prefix}, extra...)
	p := &process{cmd: exec.Command(os.Args[0], args...), stderr: &testenv.Buffer{}, exited: make(chan struct{})}
	p.cmd.Env = append(append(os.Environ(), "SUMD_TEST_MAIN=1"), env...)
	p.cmd.Stderr = p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			p.cmd.Process.Kill() // the process this test started, by its PID
			<-p.exited
		}
		if t.Failed() {
			t.Logf("sumd's stderr:\n%s", p.stderr.String())
		}
	})
	url := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if _, u, ok := strings.Cut(sc.Text(), "listening on "); ok {
				url <- u
			}
		}
	}()
	select {
	case p.URL = <-url:
	case <-p.exited:
		t.Fatalf("sumd exited before serving: %v", p.cmd.ProcessState)
	case <-time.After(60 * time.Second):
		t.Fatal("sumd did not serve within 60s")
	}
	return p
}

// signal sends sig to the process.
func (p *process) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// readyz returns /readyz's status code and status member, each on a new
// connection.
func readyz(url string) (int, string) {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(url + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	var body struct{ Status string }
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Status
}

// TestDrainOnSIGTERM runs sumd as a process with a long -shutdown-delay:
// after SIGTERM, /readyz answers 503 "draining" while POST /sum is still
// served on new connections; a second SIGTERM ends the delay at once, the
// port closes, and a request in flight then (its body not yet sent) is
// still answered 200 before sumd exits 0.
func TestDrainOnSIGTERM(t *testing.T) {
	t.Parallel()
	// The in-flight request may wait for its body, and shutdown for it,
	// longer than by default on a busy machine.
	p := sumdProcess(t, "-shutdown-delay", "10m", "-log-level", "info", "-read-timeout", "2m", "-write-timeout", "3m", "-shutdown-timeout", "2m")
	if !testenv.Eventually(30*time.Second, func() bool { code, _ := readyz(p.URL); return code == http.StatusOK }) {
		t.Fatal("/readyz not 200 within 30s")
	}
	p.signal(t, syscall.SIGTERM)
	var code int
	var status string
	if !testenv.Eventually(30*time.Second, func() bool { code, status = readyz(p.URL); return status == "draining" }) {
		t.Fatalf("/readyz after SIGTERM: got %d %q, want 503 draining", code, status)
	}
	if code != http.StatusServiceUnavailable {
		t.Errorf("/readyz while draining: got %d, want 503", code)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	req, _ := http.NewRequest(http.MethodPost, p.URL+"/sum?number=2", nil)
	req.Header.Set("Idempotency-Key", "drain-1")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST /sum while draining: %v, want 200", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "{\"total\":2}\n" {
		t.Fatalf("POST /sum while draining: got %d %q, want 200 {\"total\":2}", resp.StatusCode, body)
	}

	// A request in flight: its headers read and its handler waiting for
	// the body (the server asked for it with 100 Continue).
	conn, err := net.Dial("tcp", strings.TrimPrefix(p.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	const number = `{"number":3}`
	fmt.Fprintf(conn, "POST /sum HTTP/1.1\r\nHost: sumd\r\nIdempotency-Key: drain-2\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", len(number))
	br := bufio.NewReader(conn)
	if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 ") {
		t.Fatalf("in-flight request: got %q (%v), want 100 Continue", line, err)
	}
	if line, err := br.ReadString('\n'); err != nil || line != "\r\n" {
		t.Fatalf("in-flight request: after 100 Continue got %q (%v), want an empty line", line, err)
	}

	p.signal(t, syscall.SIGTERM) // the second: the 10m delay ends now
	addr := strings.TrimPrefix(p.URL, "http://")
	if !testenv.Eventually(30*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	}) {
		t.Fatal("the port still accepts connections 30s after the second SIGTERM")
	}
	select {
	case <-p.exited:
		t.Fatal("sumd exited with a request in flight")
	default:
	}
	if _, err := io.WriteString(conn, number); err != nil {
		t.Fatalf("send the in-flight request's body: %v", err)
	}
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("in-flight request: %v, want its response", err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "{\"total\":5}\n" {
		t.Errorf("in-flight request: got %d %q, want 200 {\"total\":5}", resp.StatusCode, body)
	}
	select {
	case <-p.exited:
	case <-time.After(60 * time.Second):
		t.Fatal("sumd did not exit within 60s of its last request")
	}
	if !p.cmd.ProcessState.Success() {
		t.Errorf("sumd exited %v, want status 0", p.cmd.ProcessState)
	}
	if log := p.stderr.String(); !strings.Contains(log, "draining cut short") {
		t.Errorf("log has no line saying the second signal cut the drain short")
	}
}

// TestDrainEndsAfterTheDelay: without a second signal, sumd stops by
// itself once -shutdown-delay has passed.
func TestDrainEndsAfterTheDelay(t *testing.T) {
	t.Parallel()
	p := sumdProcess(t, "-shutdown-delay", "1s")
	p.signal(t, syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(60 * time.Second):
		t.Fatal("sumd did not exit within 60s of SIGTERM with -shutdown-delay 1s")
	}
	if !p.cmd.ProcessState.Success() {
		t.Errorf("sumd exited %v, want status 0", p.cmd.ProcessState)
	}
}
