package e2e_test

import (
	"context"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestNginxFrontsThreeInstances runs deploy/nginx.conf, the configuration
// the README ships (only its ports substituted), in front of three
// instances, and sends concurrent duplicates of every key through it.
func TestNginxFrontsThreeInstances(t *testing.T) {
	t.Parallel()
	nginx := lookNginx(t)
	c := StartCluster(t, Options{Instances: 3})
	front := startNginx(t, nginx, c).URL

	keys := newKeys("nginx", 300)
	client := &http.Client{Timeout: 5 * time.Second}
	bodies := make([][]string, len(keys))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, k := range keys {
		for range 2 { // two concurrent copies of every key through nginx
			wg.Add(1)
			go func() {
				defer wg.Done()
				body := postUntil200(t, client, front, k)
				mu.Lock()
				bodies[i] = append(bodies[i], body)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	want := new(big.Int)
	type answer struct{ total, number *big.Int }
	var answers []answer
	for i, k := range keys {
		if bodies[i][0] != bodies[i][1] {
			t.Errorf("key %s: bodies %q and %q differ", k.Name, bodies[i][0], bodies[i][1])
		}
		total, err := parseTotal([]byte(bodies[i][0]))
		if err != nil {
			t.Fatalf("key %s: %v", k.Name, err)
		}
		n := new(big.Int).SetUint64(k.Number)
		want.Add(want, n)
		answers = append(answers, answer{total, n})
	}
	sort.Slice(answers, func(a, b int) bool { return answers[a].total.Cmp(answers[b].total) < 0 })
	prev := new(big.Int)
	for _, a := range answers {
		if before := new(big.Int).Sub(a.total, a.number); before.Cmp(prev) != 0 {
			t.Fatalf("not linearizable: total %s - number %s = %s, want the previous total %s", a.total, a.number, before, prev)
		}
		prev = a.total
	}
	req, _ := http.NewRequest(http.MethodGet, front+"/sum", nil)
	resp, err := do(client, req)
	if err != nil {
		t.Fatal(err)
	}
	if total, err := parseTotal(resp.Body); err != nil || total.Cmp(want) != 0 {
		t.Errorf("total through nginx got %v (%v), want %s: each key added exactly once", total, err, want)
	}
}

// lookNginx returns the path of the nginx binary, or skips the test when
// there is none (fails it with IDEMSUM_REQUIRE_SERVICES=1).
func lookNginx(t *testing.T) string {
	t.Helper()
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		if os.Getenv("IDEMSUM_REQUIRE_SERVICES") == "1" {
			t.Fatal("nginx is required (IDEMSUM_REQUIRE_SERVICES=1) but not installed: scripts/tools.sh installs it")
		}
		t.Skip("nginx is not installed (scripts/tools.sh installs it)")
	}
	return nginx
}

// nginxFront is an nginx started by startNginx.
type nginxFront struct {
	URL       string // such as http://127.0.0.1:4711
	ErrorLog  string // the path of nginx's stderr, its error log
	AccessLog string // the path of the access log in accessFormat
}

// accessFormat is the access log startNginx adds in place of the shipped
// "access_log off": method, path, status, and every upstream tried, so
// that a test sees which requests nginx passed to more than one instance.
const accessFormat = `log_format e2e '$request_method $uri $status "$upstream_addr" "$upstream_status"'; access_log access.log e2e;`

// startNginx writes deploy/nginx.conf with the instances' ports and a free
// front port into a prefix of its own, runs nginx in the foreground (the
// config has "daemon off"), and returns it once it answers. Only the ports
// and the access log differ from the shipped file.
func startNginx(t *testing.T, nginx string, c *Cluster) *nginxFront {
	t.Helper()
	conf, err := os.ReadFile(filepath.Join("..", "deploy", "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(conf)
	for i, in := range c.Instances {
		text = strings.Replace(text, fmt.Sprintf("server 127.0.0.1:%d ", 8081+i), "server "+strings.TrimPrefix(in.URL(), "http://")+" ", 1)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	front := ln.Addr().String()
	ln.Close()
	text = strings.Replace(text, "listen 127.0.0.1:8080;", "listen "+front+";", 1)
	if unsubstituted(text) {
		t.Fatalf("deploy/nginx.conf changed shape: ports left unsubstituted:\n%s", text)
	}
	if !strings.Contains(text, "access_log off;") {
		t.Fatalf("deploy/nginx.conf changed shape: no \"access_log off;\" to replace:\n%s", text)
	}
	text = strings.Replace(text, "access_log off;", accessFormat, 1)
	prefix := t.TempDir()
	if err := os.WriteFile(filepath.Join(prefix, "nginx.conf"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(prefix, "stderr.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nginx, "-p", prefix, "-c", "nginx.conf")
	cmd.Stdout, cmd.Stderr = logFile, logFile // a file, not a pipe: workers inherit it
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // master and workers: its own group
		cmd.Wait()
		logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("nginx stderr:\n%s", b)
		}
	})
	url := "http://" + front
	ok := waitFor(context.Background(), 10*time.Second, func() bool {
		resp, err := http.Get(url + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if !ok {
		t.Fatalf("nginx did not answer on %s within 10s", front)
	}
	return &nginxFront{URL: url, ErrorLog: logPath, AccessLog: filepath.Join(prefix, "access.log")}
}

// postUntil200 adds k through url, retrying 409, 5xx and transport errors
// until a 200, and returns the body.
func postUntil200(t *testing.T, c *http.Client, url string, k Key) string {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest(http.MethodPost, url+"/sum", strings.NewReader(fmt.Sprintf(`{"number":%d}`, k.Number)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", k.Name)
		resp, err := do(c, req)
		if err == nil && resp.Status == http.StatusOK {
			return string(resp.Body)
		}
		if err == nil && resp.Status < 500 && resp.Status != http.StatusConflict {
			t.Errorf("key %s: status %d %s", k.Name, resp.Status, resp.Body)
			return ""
		}
		time.Sleep(20 * time.Millisecond) // retry backoff
	}
	t.Errorf("key %s: no 200 within 30s", k.Name)
	return ""
}

// unsubstituted reports a directive (not a comment) still naming one of
// the README's ports 8080-8083.
func unsubstituted(conf string) bool {
	for _, line := range strings.Split(conf, "\n") {
		line, _, _ = strings.Cut(line, "#")
		if strings.Contains(line, ":808") {
			return true
		}
	}
	return false
}
