package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/idemsum/idemsum/internal/faultproxy"
	"github.com/idemsum/idemsum/internal/testenv"
	"github.com/idemsum/idemsum/mysql"
)

// TestStartsWhileMySQLIsDown: sumd started while MySQL refuses connections
// does not exit: it serves /healthz, answers 503 on /readyz and on
// additions (adding nothing), retries, and becomes ready — migrated, with
// its identity — once MySQL comes up.
func TestStartsWhileMySQLIsDown(t *testing.T) {
	t.Parallel()
	p, proxied := refusingMySQL(t, testenv.MySQL(t))
	_, prefix := testenv.Redis(t)

	ctx, cancel := context.WithCancel(context.Background())
	outR, outW := io.Pipe()
	errR, errW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"sumd", "-http-addr", "127.0.0.1:0", "-mysql-dsn", proxied,
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

// TestReadyzSaysWhyItIsStarting: while sumd cannot start, /readyz names
// the reason: "down" while MySQL does not answer, "bad-identity" while
// the sum_deployment row is malformed (altered by hand), "not-migrated"
// while a migration fails; each time with a reason for operators. Once
// the cause is gone, sumd starts without a restart.
func TestReadyzSaysWhyItIsStarting(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		state string
		// spoil leaves db so that sumd cannot start, and returns what
		// mends it.
		spoil func(t *testing.T, db *sql.DB) func()
	}{
		{"malformed identity row", "bad-identity", func(t *testing.T, db *sql.DB) func() {
			ctx := context.Background()
			if err := mysql.Migrate(ctx, db); err != nil {
				t.Fatal(err)
			}
			id, err := mysql.LoadIdentity(ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			mustExec(t, db, "UPDATE sum_deployment SET deployment_id = 'altered' WHERE id = 1")
			return func() { mustExec(t, db, "UPDATE sum_deployment SET deployment_id = ? WHERE id = 1", id.ID) }
		}},
		{"migration fails", "not-migrated", func(t *testing.T, db *sql.DB) func() {
			mustExec(t, db, "CREATE TABLE idemsum_schema_migrations (unexpected INT)")
			return func() { mustExec(t, db, "DROP TABLE idemsum_schema_migrations") }
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dsn := testenv.MySQL(t)
			db, err := mysql.Open(context.Background(), dsn, 2)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			mend := tc.spoil(t, db)
			p, proxied := refusingMySQL(t, dsn)
			url, ready := startStarting(t, proxied)
			wantStarting(t, url, "down")
			p.Refuse(false)
			wantStarting(t, url, tc.state)
			mend()
			select {
			case <-ready:
			case <-time.After(30 * time.Second):
				t.Fatal("sumd did not become ready within 30s of the cause going away")
			}
		})
	}
}

// wantStarting polls /readyz until it is 503 "starting" with "mysql":
// state and a reason.
func wantStarting(t *testing.T, url, state string) {
	t.Helper()
	var last map[string]string
	ok := testenv.Eventually(30*time.Second, func() bool {
		resp, err := http.Get(url + "/readyz")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		last = nil
		json.NewDecoder(resp.Body).Decode(&last)
		return resp.StatusCode == http.StatusServiceUnavailable && last["status"] == "starting" &&
			last["mysql"] == state && last["mysql_reason"] != ""
	})
	if !ok {
		t.Fatalf("/readyz: got %v, want status starting, mysql %q and a mysql_reason", last, state)
	}
}

// startStarting runs sumd in-process on dsn without Redis and returns its
// URL as soon as it listens (before MySQL is ready), and a channel closed
// once it is ready; extra flags follow the others.
func startStarting(t *testing.T, dsn string, extra ...string) (string, <-chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	outR, outW := io.Pipe()
	errR, errW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"sumd", "-http-addr", "127.0.0.1:0", "-mysql-dsn", dsn, "-redis-url", "off"}, extra...),
			func(string) string { return "" }, outW, errW)
		outW.Close()
		errW.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run returned %v after cancel, want nil", err)
		}
	})
	addr, ready := make(chan string, 1), make(chan struct{})
	go func() {
		sc := bufio.NewScanner(errR)
		for sc.Scan() {
			var line struct{ Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Addr != "" {
				select {
				case addr <- line.Addr:
				default:
				}
			}
		}
	}()
	go func() {
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening on ") {
				close(ready)
				break
			}
		}
		io.Copy(io.Discard, outR)
	}()
	select {
	case a := <-addr:
		return "http://" + a, ready
	case err := <-done:
		t.Fatalf("run exited before listening: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("sumd did not log its address within 30s")
	}
	return "", nil
}

func mustExec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// refusingMySQL puts a proxy that refuses connections (until Refuse(false))
// in front of dsn's server, closed in Cleanup, and returns it with a DSN
// that goes through it.
func refusingMySQL(t *testing.T, dsn string) (*faultproxy.Proxy, string) {
	t.Helper()
	cfg, err := gomysql.ParseDSN(dsn)
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
	return p, cfg.FormatDSN()
}
