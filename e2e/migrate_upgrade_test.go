package e2e_test

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	mysqldrv "github.com/go-sql-driver/mysql"

	"github.com/idemsum/idemsum/e2e/harness"
	"github.com/idemsum/idemsum/internal/testenv"
)

// TestMigrationsApartDuringARollingUpgrade upgrades a running deployment
// of the previous release (built from git), whose bookkeeping is in
// schema_migrations, the way docs/operations.md#migrations says, under
// load: sumd migrate of this release runs with a migration account while
// the old instances add; an old instance restarts after it and starts as
// before; then every instance is replaced, one at a time, by this release
// with -migrate=false on an account that may only read and write rows.
// sumd migrate must copy the bookkeeping and leave schema_migrations as it
// was, every key must be added exactly once with no 5xx, and the new
// instances must run no DDL (their account could not).
func TestMigrationsApartDuringARollingUpgrade(t *testing.T) {
	t.Parallel()
	old := buildPrevious(t)
	c := harness.StartCluster(t, harness.Options{Instances: 2, InstanceBinary: map[int]string{0: old, 1: old}})
	if tables := tablesLike(t, c, "%schema_migrations"); !slices.Equal(tables, []string{"schema_migrations"}) {
		t.Fatalf("the previous release %s made the bookkeeping tables %q, want [schema_migrations]", previousRelease, tables)
	}
	legacy := rowsOf(t, c, "schema_migrations")
	migrator, app := accounts(t, c)
	initial := harness.GetTotal(t, c.Instances[0])

	f := &fleet{}
	for _, in := range c.Instances {
		f.add(in, true)
	}
	load := startUpgradeLoad(t, f, 8)
	load.waitKeys(t, 100)

	cmd := exec.CommandContext(t.Context(), harness.Sumd(), "migrate", "-mysql-dsn", app)
	cmd.Env = append(os.Environ(), "SUM_MIGRATE_DSN="+migrator)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sumd migrate: %v\n%s", err, out)
	}
	for _, want := range []string{"copied 2 rows", "applied 0003_client_scope.sql", "schema up to date: version 3"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("sumd migrate printed %q, want a line with %q", out, want)
		}
	}
	if got, want := rowsOf(t, c, "idemsum_schema_migrations"), []string{"1 0001_init.sql", "2 0002_deployment.sql", "3 0003_client_scope.sql"}; !slices.Equal(got, want) {
		t.Errorf("idemsum_schema_migrations: got %q, want %q", got, want)
	}
	load.waitKeys(t, load.resolved.Load()+100)

	// An old instance restarts after the move: it starts as before.
	drain(t, f, load, 0)
	if st := c.Instances[0].Terminate(15 * time.Second); !st.Success() {
		t.Errorf("%s (the previous release) on SIGTERM exited %v, want 0; its log but requests:\n%s", c.Instances[0].Name, st, notRequests(c.Instances[0].Log()))
	}
	c.Instances[0].Restart()
	f.up(0, true)
	load.waitKeys(t, load.resolved.Load()+100)
	if got := rowsOf(t, c, "schema_migrations"); !slices.Equal(got, legacy) {
		t.Errorf("schema_migrations after the move and an old instance's restart: got %q, want it as it was, %q", got, legacy)
	}

	for i := range 2 {
		in := c.Instances[i]
		drain(t, f, load, i)
		if st := in.Terminate(15 * time.Second); !st.Success() {
			t.Errorf("%s on SIGTERM exited %v, want 0; its log but requests:\n%s", in.Name, st, notRequests(in.Log()))
		}
		in.SetBinary("")
		in.RestartWith("-migrate=false", "-mysql-dsn", app)
		f.up(i, false)
		load.waitKeys(t, load.resolved.Load()+100)
	}
	load.stop(t)

	t.Logf("load: %d keys × 2 copies, %d answered by the previous release and %d by this one; attempts %v",
		load.resolved.Load(), load.byOld.Load(), load.byNew.Load(), load.statuses())
	if load.N.Load() > 0 {
		t.Errorf("%d copies failed, want none; the first: %s", load.N.Load(), load.First())
	}
	for st, n := range load.statuses() {
		if st != http.StatusOK && st != http.StatusConflict {
			t.Errorf("%d attempts answered %d, want only 200 and 409", n, st)
		}
	}
	if load.byNew.Load() == 0 {
		t.Errorf("no key was answered by this release")
	}
	want := harness.CheckScoped(t, c, map[string]*harness.Results{"": load.res}, initial, "")
	for _, in := range c.Instances {
		if got := harness.GetTotal(t, in); got.Cmp(want) != 0 {
			t.Errorf("GET /sum on %s = %v, want %v", in.Name, got, want)
		}
	}
}

// drain is fleet.drain, and then closes the load's idle connections, as
// a load balancer taking an instance out would: a connection its client
// dialled and never used counts as busy for http.Server.Shutdown until it
// is 5 s old, longer than the instances' -shutdown-timeout.
func drain(t *testing.T, f *fleet, l *upgradeLoad, i int) {
	t.Helper()
	f.drain(t, i)
	l.client.CloseIdleConnections()
}

// notRequests returns the lines of log that are not request lines.
func notRequests(log string) string {
	var out []string
	for l := range strings.Lines(log) {
		if !strings.Contains(l, `"msg":"request"`) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "")
}

// tablesLike returns the tables of c's database whose names are LIKE
// pattern.
func tablesLike(t testing.TB, c *harness.Cluster, pattern string) []string {
	t.Helper()
	return queryColumn(t, c, "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name LIKE ? ORDER BY table_name", pattern)
}

// rowsOf returns a bookkeeping table's rows as "version name".
func rowsOf(t testing.TB, c *harness.Cluster, table string) []string {
	t.Helper()
	return queryColumn(t, c, "SELECT CONCAT(version, ' ', name) FROM "+table+" ORDER BY version")
}

func queryColumn(t testing.TB, c *harness.Cluster, q string, args ...any) []string {
	t.Helper()
	rows, err := c.DB.QueryContext(t.Context(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// accounts creates a migration account and a rows-only account of the
// test's own on c's database, with the grants of
// docs/operations.md#migrations, and returns their DSNs; Cleanup drops
// them.
func accounts(t testing.TB, c *harness.Cluster) (migrator, app string) {
	t.Helper()
	cfg, err := mysqldrv.ParseDSN(c.DSN)
	if err != nil {
		t.Fatal(err)
	}
	u := testenv.Unique()
	dsn := map[string]string{}
	for role, privs := range map[string]string{"mig": "SELECT, INSERT, UPDATE, CREATE, ALTER, INDEX", "app": "SELECT, INSERT, UPDATE, DELETE"} {
		user := "idemsum_" + role + "_" + u
		for _, host := range []string{"127.0.0.1", "localhost"} {
			account := "'" + user + "'@'" + host + "'"
			for _, q := range []string{"CREATE USER " + account + " IDENTIFIED BY 'pw-" + u + "'", "GRANT " + privs + " ON `" + cfg.DBName + "`.* TO " + account} {
				if _, err := c.DB.ExecContext(t.Context(), q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			t.Cleanup(func() { c.DB.Exec("DROP USER " + account) })
		}
		a := cfg.Clone()
		a.User, a.Passwd = user, "pw-"+u
		dsn[role] = a.FormatDSN()
	}
	return dsn["mig"], dsn["app"]
}

// TestVersionOfABuildFromGit builds sumd in a clone of this repository's
// HEAD, as a user would, and asks it: sumd version and sumd -version name
// the commit (with +modified once a tracked file changes) and the Go
// version; the version is the one go build derives from git (Go 1.24 and
// later): the tag at HEAD, else a pseudo-version ending in the commit,
// with +dirty once a tracked file changes.
func TestVersionOfABuildFromGit(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		testenv.Missing(t, "not in a git clone: "+err.Error())
	}
	root := strings.TrimSpace(string(out))
	head := gitOut(t, root, "rev-parse", "HEAD")
	dir := filepath.Join(t.TempDir(), "clone")
	gitOut(t, root, "clone", "--quiet", "--shared", "--no-checkout", root, dir)
	gitOut(t, dir, "checkout", "--quiet", head)
	goVersion := strings.TrimSpace(goOut(t, dir, "env", "GOVERSION"))
	version := "-" + head[:12] // a pseudo-version v0.0.0-<time>-<commit>
	if tag := gitOut(t, dir, "tag", "--points-at", "HEAD"); tag != "" {
		version = " " + strings.Fields(tag)[0]
	}
	bin := filepath.Join(t.TempDir(), "sumd")
	for _, modified := range []bool{false, true} {
		if modified {
			if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("changed\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		goOut(t, dir, "build", "-buildvcs=true", "-o", bin, "./cmd/sumd")
		rev, ver := head, version
		if modified {
			rev, ver = rev+"+modified", ver+"+dirty"
		}
		for _, arg := range []string{"version", "-version"} {
			got, err := exec.Command(bin, arg).Output()
			if err != nil {
				t.Fatalf("sumd %s: %v", arg, err)
			}
			for _, want := range []string{"version  v", ver + "\n", "revision " + rev + " (", "go       " + goVersion + " "} {
				if !strings.Contains(string(got), want) {
					t.Errorf("sumd %s (modified %v) printed %q, want %q", arg, modified, got, want)
				}
			}
		}
	}
}

// gitOut runs git in dir and returns its trimmed output.
func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// goOut runs go in dir, with VCS stamping allowed whatever GOFLAGS says,
// and returns its output.
func goOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOTOOLCHAIN=local", "GOFLAGS=-buildvcs=true")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
