package e2e_test

import (
	"context"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mysqldrv "github.com/go-sql-driver/mysql"

	"github.com/idemsum/idemsum/e2e/harness"
	"github.com/idemsum/idemsum/internal/testenv"
)

// previousRelease is the last commit before keys were scoped per client
// (docs/design.md#key-scope): its sumd knows no client column.
const previousRelease = "41a82a9"

// upgradeFiller is how many rows of history TestRollingUpgradeFromThe-
// PreviousRelease puts in sum_ledger before the new release migrates it,
// so that the migration's table rebuild lasts long enough (hundreds of
// milliseconds) for writes to meet it: on an empty table it takes
// milliseconds and a migration that blocks writes would go unseen.
const upgradeFiller = 300_000

// fillerPrefix starts the key of every filler row.
const fillerPrefix = "filler-"

// buildPrevious builds the sumd of previousRelease from this clone's
// history into a temporary directory. Without that history (not a git
// clone, or a shallow one) it skips t, or fails it under
// IDEMSUM_REQUIRE_SERVICES=1 (CI), where the upgrade must be tested.
func buildPrevious(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		testenv.Missing(t, fmt.Sprintf("not in a git clone (%v): cannot build the previous release %s", err, previousRelease))
	}
	root := strings.TrimSpace(string(out))
	if err := exec.Command("git", "-C", root, "rev-parse", "--verify", previousRelease+"^{commit}").Run(); err != nil {
		testenv.Missing(t, fmt.Sprintf("this clone lacks the history of the previous release %s (a shallow clone? git fetch --unshallow): git rev-parse: %v", previousRelease, err))
	}
	dir := t.TempDir()
	archive := exec.Command("sh", "-c", `git -C "$1" archive "$2" | tar -x -C "$3"`, "sh", root, previousRelease, dir)
	if out, err := archive.CombinedOutput(); err != nil {
		t.Fatalf("git archive %s: %v\n%s", previousRelease, err, out)
	}
	bin := filepath.Join(dir, "sumd-old")
	build := exec.Command("go", "build", "-o", bin, "./cmd/sumd")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOTOOLCHAIN=local", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build the previous release %s: %v\n%s", previousRelease, err, out)
	}
	return bin
}

// TestRollingUpgradeFromThePreviousRelease upgrades a running deployment
// from the previous release (built from git) to this one, under load, the
// way an operator would: two old instances take load on a ledger with
// history; a new instance starts and migrates sum_ledger online (the
// client column and the primary key (client, idem_key)) while the old
// ones keep adding; then each old instance is drained, stopped (SIGTERM)
// and replaced by a new one. Every key is sent twice at once, one copy
// to an old instance and one to a new one whenever both run, so old and
// new must fence each other's (anonymous) keys. Every key must be added
// exactly once, every answer be MySQL's, none a 5xx, old instances must
// have added while the migration ran, and every row must be the
// anonymous client's.
func TestRollingUpgradeFromThePreviousRelease(t *testing.T) {
	t.Parallel()
	began := time.Now()
	old := buildPrevious(t)
	built := time.Since(began)
	c := harness.StartCluster(t, harness.Options{Instances: 2, InstanceBinary: map[int]string{0: old, 1: old}})
	if hasClientColumn(t, c) {
		t.Fatalf("the previous release %s made sum_ledger with a client column: not the release before keys were scoped per client", previousRelease)
	}
	filled := fillLedger(t, c, upgradeFiller)
	initial := harness.GetTotal(t, c.Instances[0])

	f := &fleet{}
	for _, in := range c.Instances {
		f.add(in, true)
	}
	load := startUpgradeLoad(t, f, 16)
	load.waitKeys(t, 100)

	dbName := dsnDatabase(t, c.DSN)
	watch := watchAlter(t, c, dbName)
	t0 := time.Now()
	in2 := c.AddInstance(t, "")
	startup := time.Since(t0)
	alterFrom, alterTo, polls := watch()
	c.Instances = append(c.Instances, in2)
	f.add(in2, false)
	if !hasClientColumn(t, c) {
		t.Fatalf("the new instance is up, and sum_ledger has no client column: not migrated")
	}
	load.waitKeys(t, load.resolved.Load()+200)

	var replaced []time.Duration
	for i := range 2 {
		in := c.Instances[i]
		t0 := time.Now()
		f.drain(t, i)
		if st := in.Terminate(15 * time.Second); !st.Success() {
			t.Errorf("%s (the previous release) on SIGTERM exited %v, want 0", in.Name, st)
		}
		in.SetBinary("")
		in.Restart()
		f.up(i, false)
		replaced = append(replaced, time.Since(t0))
		load.waitKeys(t, load.resolved.Load()+200)
	}
	load.stop(t)
	loaded := time.Since(began)

	alter := alterTo.Sub(alterFrom)
	duringAlter := load.freshOldWithin(alterFrom, alterTo)
	t.Logf("previous release %s built in %v; %d filler rows in %v", previousRelease, built.Round(time.Millisecond), upgradeFiller, filled.Round(time.Millisecond))
	t.Logf("the new instance started and migrated in %v; the ALTER TABLE ran %v (seen in %d polls of the processlist); old instances made %d fresh additions wholly within it",
		startup.Round(time.Millisecond), alter.Round(time.Millisecond), polls, duringAlter)
	t.Logf("old instances replaced (drain, SIGTERM, start) in %v", replaced)
	t.Logf("load: %d keys × 2 copies, %d answered by the previous release and %d by this one; %d keys answered by both; attempts %v",
		load.resolved.Load(), load.byOld.Load(), load.byNew.Load(), load.mixed(), load.statuses())
	if load.N.Load() > 0 {
		t.Errorf("%d copies failed, want none; the first: %s", load.N.Load(), load.First())
	}
	if alterFrom.IsZero() {
		t.Errorf("the migration's ALTER TABLE was never seen running in %d polls of the processlist", polls)
	} else if duringAlter == 0 {
		t.Errorf("no addition of an old instance was made while the ALTER TABLE ran (%v): the migration blocked writes", alter.Round(time.Millisecond))
	}
	if load.mixed() == 0 {
		t.Errorf("no key was answered by both releases: the test did not send keys to old and new at once")
	}
	for st, n := range load.statuses() {
		if st != http.StatusOK && st != http.StatusConflict {
			t.Errorf("%d attempts answered %d, want only 200 and 409", n, st)
		}
	}
	want := harness.CheckScoped(t, c, map[string]*harness.Results{"": load.res}, initial, fillerPrefix)
	for _, in := range c.Instances {
		if got := harness.GetTotal(t, in); got.Cmp(want) != 0 {
			t.Errorf("GET /sum on %s = %v, want %v", in.Name, got, want)
		}
	}
	checkAnonymousRows(t, c, upgradeFiller+load.res.Len())
	t.Logf("total %v = initial %v + %v; load over after %v, checked after %v", want, initial, new(big.Int).Sub(want, initial), loaded.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
}

// hasClientColumn reports whether c's sum_ledger has the client column.
func hasClientColumn(t testing.TB, c *harness.Cluster) bool {
	t.Helper()
	var n int
	q := "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'sum_ledger' AND COLUMN_NAME = 'client'"
	if err := c.DB.QueryRowContext(t.Context(), q).Scan(&n); err != nil {
		t.Fatalf("information_schema.COLUMNS: %v", err)
	}
	return n > 0
}

// fillLedger inserts n rows of history (keys fillerPrefix + i, numbers
// not in the total) into sum_ledger, and returns how long it took.
func fillLedger(t testing.TB, c *harness.Cluster, n int) time.Duration {
	t.Helper()
	t0 := time.Now()
	const batch = 100_000
	now := time.Now().UnixMilli()
	for lo := 1; lo <= n; lo += batch {
		hi := min(n, lo+batch-1)
		// lo + 0..99999 from five cross-joined digit tables: SQL that MySQL 8
		// and MariaDB both run.
		const digits = "(SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)"
		q := fmt.Sprintf(`INSERT INTO sum_ledger (idem_key, number, total, created_ms)
SELECT CONCAT('%s', s.seq), 1, s.seq, %d FROM (
  SELECT %d + a.d + 10*b.d + 100*c.d + 1000*e.d + 10000*f.d AS seq
  FROM %s a, %s b, %s c, %s e, %s f) s
WHERE s.seq <= %d`, fillerPrefix, now, lo, digits, digits, digits, digits, digits, hi)
		if _, err := c.DB.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("fill sum_ledger: %v", err)
		}
	}
	return time.Since(t0)
}

// dsnDatabase returns the database name of dsn.
func dsnDatabase(t testing.TB, dsn string) string {
	t.Helper()
	cfg, err := mysqldrv.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("parse DSN: %v", err)
	}
	return cfg.DBName
}

// watchAlter polls the processlist for an ALTER TABLE sum_ledger in
// database db until the returned function is called, which returns when
// it was first and last seen, and how many polls were made.
func watchAlter(t testing.TB, c *harness.Cluster, db string) func() (from, to time.Time, polls int) {
	ctx, cancel := context.WithCancel(t.Context())
	var from, to time.Time
	polls := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		q := "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID() AND INFO LIKE '%ALTER TABLE sum_ledger%'"
		for ctx.Err() == nil {
			var n int
			if err := c.DB.QueryRowContext(ctx, q, db).Scan(&n); err != nil {
				continue
			}
			polls++
			if n > 0 {
				if from.IsZero() {
					from = time.Now()
				}
				to = time.Now()
			}
		}
	}()
	return func() (time.Time, time.Time, int) {
		cancel()
		<-done
		return from, to, polls
	}
}

// checkAnonymousRows checks that sum_ledger holds want rows, all of the
// anonymous client (client = "").
func checkAnonymousRows(t testing.TB, c *harness.Cluster, want int) {
	t.Helper()
	var all, anonymous int
	if err := c.DB.QueryRowContext(t.Context(), "SELECT COUNT(*), COALESCE(SUM(client = ''), 0) FROM sum_ledger").Scan(&all, &anonymous); err != nil {
		t.Fatalf("count ledger: %v", err)
	}
	if all != want || anonymous != all {
		t.Errorf("sum_ledger holds %d rows, %d of the anonymous client; want %d, all anonymous", all, anonymous, want)
	}
}

// fleet is the instances a load may send to: those up, each with the
// release it runs, and the attempts in flight to each, so that an
// instance is drained before it is stopped.
type fleet struct {
	mu       sync.Mutex
	ins      []*harness.Instance
	live     []bool
	old      []bool
	inflight []int
}

func (f *fleet) add(in *harness.Instance, old bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ins, f.live, f.old, f.inflight = append(f.ins, in), append(f.live, true), append(f.old, old), append(f.inflight, 0)
}

// acquire picks a live instance, one running the old release if old and
// there is one, else one running the new release if there is one, else
// any live one, other than not when possible; and counts an attempt in
// flight to it.
func (f *fleet) acquire(old bool, not int) (i int, isOld bool, in *harness.Instance) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var pref, other []int
	for j, up := range f.live {
		switch {
		case !up:
		case f.old[j] == old && j != not:
			pref = append(pref, j)
		default:
			other = append(other, j)
		}
	}
	pick := pref
	if len(pick) == 0 {
		pick = other
	}
	i = pick[rand.IntN(len(pick))]
	f.inflight[i]++
	return i, f.old[i], f.ins[i]
}

func (f *fleet) release(i int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inflight[i]--
}

// drain stops sending to instance i and waits until none of its attempts
// is in flight.
func (f *fleet) drain(t testing.TB, i int) {
	t.Helper()
	f.mu.Lock()
	f.live[i] = false
	f.mu.Unlock()
	if !harness.WaitFor(t.Context(), 30*time.Second, func() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.inflight[i] == 0 }) {
		t.Fatalf("%s: attempts still in flight after 30s", f.ins[i].Name)
	}
}

// up sends to instance i again, which now runs the old release or not.
func (f *fleet) up(i int, old bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.live[i], f.old[i] = true, old
}

// upgradeLoad sends fresh keys, each as two copies at once (one meant
// for an old instance, one for a new), each copy retried on 409 until a
// 200, until stopped.
type upgradeLoad struct {
	harness.Failures
	f        *fleet
	res      *harness.Results
	client   *http.Client
	resolved atomic.Int64
	byOld    atomic.Int64
	byNew    atomic.Int64
	done     chan struct{}
	wg       sync.WaitGroup

	mu      sync.Mutex
	sts     map[int]int
	kinds   map[string]int // by key: 1 answered by old, 2 by new, 3 both
	answers []upgradeAnswer
}

// upgradeAnswer is one 200 of the load.
type upgradeAnswer struct {
	start, end      time.Time
	old, replayed   bool
	key             string
	number          uint64
	instance, total string
}

func startUpgradeLoad(t *testing.T, f *fleet, workers int) *upgradeLoad {
	l := &upgradeLoad{f: f, res: harness.NewResults(), done: make(chan struct{}), sts: map[int]int{}, kinds: map[string]int{},
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}}
	u := testenv.Unique()
	for w := range workers {
		l.wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-l.done:
					return
				default:
				}
				k := harness.Key{Name: fmt.Sprintf("e2e-upgrade-%s-%d-%d", u, w, i), Number: 1 + rand.Uint64N(1e12)}
				var wg sync.WaitGroup
				first := make(chan int, 1)
				wg.Go(func() { l.sendCopy(t, k, true, -1, first) })
				wg.Go(func() { l.sendCopy(t, k, false, <-first, nil) })
				wg.Wait()
				l.resolved.Add(1)
			}
		})
	}
	t.Cleanup(func() { l.stop(t) })
	return l
}

// sendCopy sends one copy of k until a 200, to an old instance if old and
// one runs, never to instance not if another runs; it sends its first
// instance to first, if not nil.
func (l *upgradeLoad) sendCopy(t *testing.T, k harness.Key, old bool, not int, first chan<- int) {
	deadline := time.Now().Add(30 * time.Second)
	backoff := 5 * time.Millisecond
	for {
		i, isOld, in := l.f.acquire(old, not)
		if first != nil {
			first <- i
			first = nil
		}
		start := time.Now()
		resp, err := harness.SendOne(t.Context(), l.client, in, k)
		end := time.Now()
		l.f.release(i)
		switch {
		case err != nil:
			l.Fail(fmt.Sprintf("key %s on %s: %v", k.Name, in.Name, err))
			return
		case resp.Status == http.StatusOK:
			l.answered(k, i, in, isOld, start, end, resp)
			return
		case resp.Status != http.StatusConflict:
			l.status(resp.Status)
			l.Fail(fmt.Sprintf("key %s on %s: status %d %s", k.Name, in.Name, resp.Status, resp.Body))
			return
		}
		l.status(resp.Status)
		if time.Now().After(deadline) {
			l.Fail(fmt.Sprintf("key %s: 409 for 30s", k.Name))
			return
		}
		time.Sleep(backoff/2 + rand.N(backoff/2+1))
		backoff = min(2*backoff, 100*time.Millisecond)
	}
}

func (l *upgradeLoad) status(st int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sts[st]++
}

func (l *upgradeLoad) answered(k harness.Key, i int, in *harness.Instance, old bool, start, end time.Time, resp *harness.Response) {
	l.res.Record(k, i, resp)
	kind := 2
	if old {
		kind = 1
		l.byOld.Add(1)
	} else {
		l.byNew.Add(1)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sts[http.StatusOK]++
	l.kinds[k.Name] |= kind
	l.answers = append(l.answers, upgradeAnswer{start: start, end: end, old: old, replayed: resp.Replayed, key: k.Name, number: k.Number, instance: in.Name, total: string(resp.Body)})
}

// statuses returns the count of every status answered to the load.
func (l *upgradeLoad) statuses() map[int]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[int]int{}
	for st, n := range l.sts {
		out[st] = n
	}
	return out
}

// mixed returns how many keys were answered by both releases.
func (l *upgradeLoad) mixed() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, k := range l.kinds {
		if k == 3 {
			n++
		}
	}
	return n
}

// freshOldWithin returns how many additions (200 not replayed) of old
// instances were sent after from and answered before to.
func (l *upgradeLoad) freshOldWithin(from, to time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(slices.DeleteFunc(slices.Clone(l.answers), func(a upgradeAnswer) bool {
		return !a.old || a.replayed || a.start.Before(from) || a.end.After(to)
	}))
}

// waitKeys waits until n keys are resolved, failing t after 30s.
func (l *upgradeLoad) waitKeys(t testing.TB, n int64) {
	t.Helper()
	if !harness.WaitFor(t.Context(), 30*time.Second, func() bool { return l.resolved.Load() >= n || l.N.Load() > 0 }) {
		t.Fatalf("the load resolved %d keys in 30s, want %d", l.resolved.Load(), n)
	}
}

// stop ends the load and waits for its keys; it may be called twice.
func (l *upgradeLoad) stop(t testing.TB) {
	select {
	case <-l.done:
	default:
		close(l.done)
	}
	l.wg.Wait()
}
