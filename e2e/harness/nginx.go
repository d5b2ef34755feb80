package harness

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/idemsum/idemsum/internal/testenv"
)

// LookNginx returns the path of the nginx binary, or skips the test when
// there is none (fails it with IDEMSUM_REQUIRE_SERVICES=1).
func LookNginx(t testing.TB) string {
	t.Helper()
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		testenv.Missing(t, "nginx is not installed (scripts/tools.sh installs it)")
	}
	return nginx
}

// NginxFront is an nginx started by StartNginx.
type NginxFront struct {
	URL       string // such as http://127.0.0.1:4711
	ErrorLog  string // the path of nginx's stderr, its error log
	AccessLog string // the path of the access log in accessFormat

	c *Cluster // behind it
}

// Do is Do of the Cluster behind f: nginx's copies of sumd's answers are
// checked against server/openapi.json like sumd's own.
func (f *NginxFront) Do(client *http.Client, req *http.Request) (*Response, error) {
	return f.c.Do(client, req)
}

// accessFormat is the access log startNginx adds in place of the shipped
// "access_log off": method, path, status, and every upstream tried, so
// that a test sees which requests nginx passed to more than one instance.
const accessFormat = `log_format e2e '$request_method $uri $status "$upstream_addr" "$upstream_status"'; access_log access.log e2e;`

// StartNginx writes deploy/nginx.conf with the instances' ports and a free
// front port into a prefix of its own, runs nginx in the foreground (the
// config has "daemon off"), and returns it once it answers. Only the ports
// and the access log differ from the shipped file.
func StartNginx(t testing.TB, nginx string, c *Cluster) *NginxFront {
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
	ok := WaitFor(context.Background(), 10*time.Second, func() bool {
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
	return &NginxFront{URL: url, ErrorLog: logPath, AccessLog: filepath.Join(prefix, "access.log"), c: c}
}

// unsubstituted reports a directive (not a comment) still naming one of
// the ports 8080-8083 of deploy/nginx.conf.
func unsubstituted(conf string) bool {
	for _, line := range strings.Split(conf, "\n") {
		line, _, _ = strings.Cut(line, "#")
		if strings.Contains(line, ":808") {
			return true
		}
	}
	return false
}
