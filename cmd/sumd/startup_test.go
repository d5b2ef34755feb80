package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"idemsum/internal/faultproxy"
	"idemsum/internal/testenv"
)

// TestStartsWhileMySQLIsDown: sumd started while MySQL refuses connections
// does not exit: it serves /healthz, answers 503 on /readyz and on
// additions (adding nothing), retries, and becomes ready — migrated, with
// its identity — once MySQL comes up.
func TestStartsWhileMySQLIsDown(t *testing.T) {
	t.Parallel()
	dsn := testenv.MySQL(t)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	p, err := faultproxy.New(cfg.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	p.Refuse(true)
	cfg.Addr = p.Addr()
	_, prefix := testenv.Redis(t)

	ctx, cancel := context.WithCancel(context.Background())
	outR, outW := io.Pipe()
	errR, errW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"sumd", "-http-addr", "127.0.0.1:0", "-mysql-dsn", cfg.FormatDSN(),
			"-redis-url", testenv.RedisURL(), "-redis-prefix", prefix}, func(string) string { return "" }, outW, errW)
		outW.Close()
		errW.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run returned %v after cancel, want nil", err)
		}
	})
	addr, retried := make(chan string, 1), make(chan struct{}, 1)
	go func() { // stderr: the address at once, then the retries
		sc := bufio.NewScanner(errR)
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			json.Unmarshal(sc.Bytes(), &line)
			switch {
			case line.Addr != "":
				addr <- line.Addr
			case strings.HasPrefix(line.Msg, "mysql not ready"):
				select {
				case retried <- struct{}{}:
				default:
				}
			}
		}
	}()
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			if _, url, ok := strings.Cut(sc.Text(), "listening on "); ok {
				ready <- url
			}
		}
	}()
	var url string
	select {
	case a := <-addr:
		url = "http://" + a
	case err := <-done:
		t.Fatalf("run exited while MySQL was down: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("sumd did not log its address within 30s")
	}
	<-retried
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/healthz", http.StatusOK},
		{"GET", "/readyz", http.StatusServiceUnavailable},
		{"POST", "/sum?number=5&key=early", http.StatusServiceUnavailable},
		{"GET", "/sum", http.StatusServiceUnavailable},
	} {
		req, _ := http.NewRequest(c.method, url+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", c.method, c.path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s %s while MySQL is down: got %d, want %d", c.method, c.path, resp.StatusCode, c.want)
		}
		if c.want == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s %s: 503 without Retry-After", c.method, c.path)
		}
	}
	p.Refuse(false)
	select {
	case u := <-ready:
		if u != url {
			t.Errorf("ready on %s, want the address it listened on, %s", u, url)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("sumd did not become ready within 30s of MySQL coming up")
	}
	resp, err := http.Post(url+"/sum?number=5&key=early", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != `{"total":5}`+"\n" {
		t.Errorf("first addition once ready: got %d %q, want 200 {\"total\":5}", resp.StatusCode, body)
	}
}
