package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/idemsum/idemsum/internal/testenv"
	"github.com/idemsum/idemsum/mysql"
)

// migrateCmd runs "sumd migrate args..." in-process with env as its
// environment, and returns its stdout and error.
func migrateCmd(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := run(ctx, append([]string{"sumd", "migrate"}, args...), func(k string) string { return env[k] }, &out, &errOut)
	return out.String(), err
}

// TestMigrateCommand: sumd migrate applies every migration and says so,
// exits 0, and once more changes nothing; its DSN is -migrate-dsn
// (SUM_MIGRATE_DSN) before -mysql-dsn (SUM_MYSQL_DSN); it fails, saying
// why, on an unreachable MySQL, a stray argument or an unknown flag.
func TestMigrateCommand(t *testing.T) {
	t.Parallel()
	dsn := testenv.MySQL(t)
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	down := fmt.Sprintf("root@tcp(127.0.0.1:%d)/", port)
	out, err := migrateCmd(t, map[string]string{"SUM_MYSQL_DSN": down, "SUM_MIGRATE_DSN": dsn})
	want := "applied 0001_init.sql\napplied 0002_deployment.sql\napplied 0003_client_scope.sql\nschema up to date: version 3\n"
	if err != nil || out != want {
		t.Fatalf("first run: got %q, %v; want %q, nil", out, err, want)
	}
	out, err = migrateCmd(t, nil, "-mysql-dsn", down, "-migrate-dsn", dsn)
	if want := "schema up to date: version 3\n"; err != nil || out != want {
		t.Errorf("second run: got %q, %v; want %q, nil", out, err, want)
	}
	failures := []struct {
		name string
		args []string
		want string
	}{
		{"unreachable", []string{"-mysql-dsn", down}, "migrate: ping mysql"},
		{"stray argument", []string{"-mysql-dsn", dsn, "now"}, `unexpected argument "now"`},
		{"unknown flag", []string{"-http-addr", ":0"}, "flag provided but not defined"},
	}
	for _, f := range failures {
		if out, err := migrateCmd(t, nil, f.args...); err == nil || !strings.Contains(err.Error(), f.want) || out != "" {
			t.Errorf("%s: got %q, %v; want nothing printed and an error containing %q", f.name, out, err, f.want)
		}
	}
}

// accounts creates two MySQL accounts of t's own on dsn's database, as
// docs/operations.md#migrations grants them: one that may migrate, one
// that may only read and write rows. It returns their DSNs and drops
// them in Cleanup.
func accounts(t *testing.T, dsn string) (ddl, dml string) {
	t.Helper()
	cfg, err := gomysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	root, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	u := testenv.Unique()
	grants := map[string]string{
		"idemsum_mig_" + u: "SELECT, INSERT, UPDATE, CREATE, ALTER, INDEX",
		"idemsum_app_" + u: "SELECT, INSERT, UPDATE, DELETE",
	}
	for user, privs := range grants {
		for _, host := range []string{"127.0.0.1", "localhost"} {
			account := "'" + user + "'@'" + host + "'"
			mustExec(t, root, "CREATE USER "+account+" IDENTIFIED BY 'pw-"+u+"'")
			t.Cleanup(func() { root.Exec("DROP USER " + account) })
			mustExec(t, root, "GRANT "+privs+" ON `"+cfg.DBName+"`.* TO "+account)
		}
	}
	as := func(user string) string {
		c := cfg.Clone()
		c.User, c.Passwd = user, "pw-"+u
		return c.FormatDSN()
	}
	return as("idemsum_mig_" + u), as("idemsum_app_" + u)
}

// TestServesWithoutDDLRights: sumd -migrate=false on an account that may
// only read and write rows waits, not ready, with /readyz naming sumd
// migrate, while the schema is missing; sumd migrate with an account that
// may change the schema migrates it; the waiting instance then becomes
// ready without a restart and adds. The same row-only account with
// -migrate left on cannot start: it needs DDL rights.
func TestServesWithoutDDLRights(t *testing.T) {
	t.Parallel()
	ddl, dml := accounts(t, testenv.MySQL(t))
	url, ready := startStarting(t, dml, "-migrate=false")
	wantStarting(t, url, mysql.StateNeedsMigration)
	if reason := readyzField(t, url, "mysql_reason"); !strings.Contains(reason, "sumd migrate") {
		t.Errorf("mysql_reason %q does not name sumd migrate", reason)
	}
	if _, err := migrateCmd(t, nil, "-mysql-dsn", dml); err == nil {
		t.Errorf("sumd migrate with the row-only account: got nil, want an error")
	}
	if out, err := migrateCmd(t, map[string]string{"SUM_MYSQL_DSN": dml, "SUM_MIGRATE_DSN": ddl}); err != nil {
		t.Fatalf("sumd migrate with the migration account: %v (%s)", err, out)
	}
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Fatal("sumd -migrate=false did not become ready within 30s of sumd migrate")
	}
	resp, err := http.Post(url+"/sum?number=5&key=k", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("addition on the row-only account: got %d, want 200", resp.StatusCode)
	}
	url2, _ := startStarting(t, dml)
	wantStarting(t, url2, mysql.StateNotMigrated)
}

// readyzField returns a field of /readyz's body.
func readyzField(t *testing.T, url, field string) string {
	t.Helper()
	resp, err := http.Get(url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]string
	json.NewDecoder(resp.Body).Decode(&body)
	return body[field]
}

// TestMigrateFlag: sumd migrates at start-up unless -migrate=false or
// SUM_MIGRATE=false; a SUM_MIGRATE that is not a boolean is refused.
func TestMigrateFlag(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env  string
		args []string
		want bool
	}{
		{"", nil, true},
		{"false", nil, false},
		{"true", []string{"-migrate=false"}, false},
		{"false", []string{"-migrate"}, true},
	}
	for _, tc := range tests {
		c, err := parseConfig(tc.args, func(k string) string { return map[string]string{"SUM_MIGRATE": tc.env}[k] }, io.Discard)
		if err != nil || c.Migrate != tc.want {
			t.Errorf("SUM_MIGRATE=%q %q: got %v, %v; want %v", tc.env, tc.args, c.Migrate, err, tc.want)
		}
	}
	if _, err := parseConfig(nil, func(k string) string { return map[string]string{"SUM_MIGRATE": "maybe"}[k] }, io.Discard); err == nil || !strings.Contains(err.Error(), "SUM_MIGRATE") {
		t.Errorf("SUM_MIGRATE=maybe: got %v, want an error naming SUM_MIGRATE", err)
	}
}
