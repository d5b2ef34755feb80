package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idemsum/idemsum/internal/mariadbtopo"
	"github.com/idemsum/idemsum/internal/redistopo"
	"github.com/idemsum/idemsum/internal/testenv"
)

// TestReadinessTellsWhyRedisCannotTakeClaims: a Redis that answers PING
// but refuses writes — out of memory under noeviction, or a read-only
// replica — is reported down with its reason by /readyz and the metrics,
// additions still succeed (from MySQL), and it is up again once it heals.
func TestReadinessTellsWhyRedisCannotTakeClaims(t *testing.T) {
	t.Parallel()
	node := redistopo.StartNode(t, "--maxmemory-policy", "noeviction")
	rc := node.Client()
	in := startWith(t, testenv.MySQL(t), "idemsum:ready:", "-redis-url", "redis://"+node.Addr+"/0")
	ctx := context.Background()
	wantState(t, in, "up", "")

	for i := range 32 { // 2 MiB, then a limit below it: every write is refused
		rc.Set(ctx, fmt.Sprint("fill", i), strings.Repeat("x", 64<<10), 0)
	}
	if err := rc.ConfigSet(ctx, "maxmemory", "1mb").Err(); err != nil {
		t.Fatal(err)
	}
	wantState(t, in, "down", "oom")
	wantMetric(t, in, "idemsum_redis_up 0", `idemsum_redis_down{reason="oom"} 1`)
	wantAdd(t, in, "during-oom")
	rc.ConfigSet(ctx, "maxmemory", "0")
	wantState(t, in, "up", "")

	if err := rc.Do(ctx, "REPLICAOF", "127.0.0.1", "1").Err(); err != nil { // a primary that never answers
		t.Fatal(err)
	}
	wantState(t, in, "down", "readonly")
	wantMetric(t, in, "idemsum_redis_up 0", `idemsum_redis_down{reason="readonly"} 1`)
	wantAdd(t, in, "during-readonly")
	rc.Do(ctx, "REPLICAOF", "NO", "ONE")
	wantState(t, in, "up", "")
	wantMetric(t, in, "idemsum_redis_up 1", `idemsum_redis_down{reason="readonly"} 0`)
}

// wantState waits until /readyz answers 200 with Redis in state redis
// ("up" or "down") for one of reasons ("" when up).
func wantState(t *testing.T, in *instance, redis string, reasons ...string) {
	t.Helper()
	var last map[string]string
	ok := testenv.Eventually(10*time.Second, func() bool {
		resp, err := http.Get(in.URL + "/readyz")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		last = nil
		json.NewDecoder(resp.Body).Decode(&last)
		return resp.StatusCode == http.StatusOK && last["redis"] == redis && slices.Contains(reasons, last["redis_reason"])
	})
	if !ok {
		t.Fatalf("/readyz got %v, want 200 with redis %q for one of %q", last, redis, reasons)
	}
}

func wantMetric(t *testing.T, in *instance, lines ...string) {
	t.Helper()
	var text string
	ok := testenv.Eventually(10*time.Second, func() bool {
		resp, err := http.Get(in.URL + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		text = string(b)
		for _, l := range lines {
			if !strings.Contains(text, l) {
				return false
			}
		}
		return true
	})
	if !ok {
		t.Fatalf("metrics lack one of %q", lines)
	}
}

func wantAdd(t *testing.T, in *instance, key string) {
	t.Helper()
	for range 2 { // the first adds, the second is a replay
		resp, err := http.Post(in.URL+"/sum?number=1&key="+key, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST key %s: got %d, want 200 from MySQL", key, resp.StatusCode)
		}
	}
}

// TestReadinessProbesEveryMaster: on a cluster of 3 masters without
// replicas that keeps serving the slots it still covers, a dead master
// makes Redis down (its keys cannot be claimed) although the other
// masters answer, for as long as it is dead; additions go on from MySQL.
// (A probe of one key would see the dead master only if the key were
// on it.)
func TestReadinessProbesEveryMaster(t *testing.T) {
	t.Parallel()
	topo := redistopo.StartCluster(t, 3, 0, "--cluster-require-full-coverage", "no")
	in := startWith(t, testenv.MySQL(t), "idemsum:cluster:", "-redis-url", topo.URL())
	wantState(t, in, "up", "")
	wantMetric(t, in, "idemsum_redis_up 1")
	wantAdd(t, in, "before")
	masters, err := topo.Masters(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	masters[len(masters)-1].Kill()
	wantState(t, in, "down", "unreachable")
	wantMetric(t, in, "idemsum_redis_up 0")
	wantAdd(t, in, "during")
	for end := time.Now().Add(2500 * time.Millisecond); time.Now().Before(end); {
		wantState(t, in, "down", "unreachable") // two more probes at least: still down
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
	ok := testenv.Eventually(10*time.Second, func() bool {
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
