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

	"idemsum/internal/faultproxy"
	"idemsum/internal/testenv"
	"idemsum/mysql"
)

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
			mustExec(t, db, "CREATE TABLE schema_migrations (unexpected INT)")
			return func() { mustExec(t, db, "DROP TABLE schema_migrations") }
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
			url, ready := startStarting(t, cfg.FormatDSN())
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
	ok := eventually(30*time.Second, func() bool {
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
// once it is ready.
func startStarting(t *testing.T, dsn string) (string, <-chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	outR, outW := io.Pipe()
	errR, errW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"sumd", "-http-addr", "127.0.0.1:0", "-mysql-dsn", dsn, "-redis-url", "off"},
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
