package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"idemsum/internal/mariadbtopo"
	"idemsum/internal/testenv"
	"idemsum/mysql"
	"idemsum/server"
)

func TestMySQLReady(t *testing.T) {
	t.Parallel()
	writable := mariadbtopo.Start(t, "writable", mariadbtopo.Options{})
	readOnly := mariadbtopo.Start(t, "read-only", mariadbtopo.Options{ReadOnly: true})
	innodbRO := mariadbtopo.Start(t, "innodb-read-only", mariadbtopo.Options{Args: []string{"--innodb-read-only"}})
	for _, c := range []struct {
		name     string
		dsn      string
		readOnly bool
		ok       bool
	}{
		{"writable", writable.DSN("root", "", ""), false, true},
		{"read_only", readOnly.DSN("root", "", ""), true, false},
		{"innodb_read_only", innodbRO.DSN("root", "", ""), true, false},
		{"unreachable", "root@tcp(" + closedAddr(t) + ")/", false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			db, err := mysql.New(c.dsn, 2)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err = mysqlReady(db)(ctx)
			if got := err == nil; got != c.ok {
				t.Errorf("got %v, want ok=%v", err, c.ok)
			}
			if got := errors.Is(err, server.ErrMySQLReadOnly); got != c.readOnly {
				t.Errorf("got %v, want read-only=%v", err, c.readOnly)
			}
			if n := db.Stats().OpenConnections; c.readOnly && n != 0 {
				t.Errorf("%d connections open after a read-only answer, want 0 (discarded)", n)
			}
		})
	}
}

// TestReadinessWhileMySQLIsReadOnly: while sumd's MySQL is read-only (a
// replica, or a primary being demoted) /readyz is 503 with
// "mysql":"readonly", additions and reads are 503 with Retry-After and add
// nothing; once it takes writes again sumd is ready and adds, without a
// restart.
func TestReadinessWhileMySQLIsReadOnly(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := mariadbtopo.Start(t, "server", mariadbtopo.Options{})
	if err := srv.CreateApp(ctx, "idemsum", "sumd", "pw"); err != nil {
		t.Fatal(err)
	}
	_, prefix := testenv.Redis(t)
	in := startWith(t, srv.DSN("sumd", "pw", "idemsum"), prefix)
	wantMySQL(t, in, http.StatusOK, "up")
	if err := srv.Exec(ctx, "SET GLOBAL read_only = ON"); err != nil {
		t.Fatal(err)
	}
	wantMySQL(t, in, http.StatusServiceUnavailable, "readonly")
	// read_only stops sumd's account, not root (READ ONLY ADMIN): sumd
	// must not run as a privileged account, or a replica takes its writes.
	if err := srv.Exec(ctx, "CREATE DATABASE root_writes_anyway"); err != nil {
		t.Errorf("root on a read_only server: %v, want its write to succeed", err)
	}
	for _, r := range []struct{ method, path string }{{"POST", "/sum?number=5&key=ro"}, {"GET", "/sum"}} {
		status, body, retry := request(t, r.method, in.URL+r.path)
		if status != http.StatusServiceUnavailable || retry == "" {
			t.Errorf("%s %s on a read-only MySQL: got %d %s (Retry-After %q), want 503 with Retry-After", r.method, r.path, status, body, retry)
		}
	}
	if err := srv.Exec(ctx, "SET GLOBAL read_only = OFF"); err != nil {
		t.Fatal(err)
	}
	wantMySQL(t, in, http.StatusOK, "up")
	if status, body, _ := request(t, "POST", in.URL+"/sum?number=5&key=ro"); status != http.StatusOK || body != `{"total":5}`+"\n" {
		t.Errorf("POST once writable: got %d %q, want 200 {\"total\":5} (nothing added while read-only)", status, body)
	}
	var total string
	db := srv.Root()
	if err := db.QueryRowContext(ctx, "SELECT total FROM idemsum.sum_total").Scan(&total); err != nil || total != "5" {
		t.Errorf("total in MySQL: got %s, %v; want 5", total, err)
	}
}

// wantMySQL polls /readyz until it answers status with "mysql": state.
func wantMySQL(t *testing.T, in *instance, status int, state string) {
	t.Helper()
	var last map[string]string
	var code int
	ok := eventually(10*time.Second, func() bool {
		resp, err := http.Get(in.URL + "/readyz")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		last, code = nil, resp.StatusCode
		json.NewDecoder(resp.Body).Decode(&last)
		return code == status && last["mysql"] == state && (status == http.StatusOK || resp.Header.Get("Retry-After") != "")
	})
	if !ok {
		t.Fatalf("/readyz got %d %v, want %d with mysql %q", code, last, status, state)
	}
}

func request(t *testing.T, method, url string) (status int, body, retryAfter string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header.Get("Retry-After")
}

// closedAddr returns an address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	return fmt.Sprintf("127.0.0.1:%d", freePort(t))
}
