package e2e_test

import (
	"context"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/idemsum/idemsum/e2e/harness"
)

// maxClockSkewArgs gives sumd -max-clock-skew (docs/design.md#retention):
// MySQL keeps a key's row until -key-ttl + 2×-max-clock-skew have
// passed, so that instances whose clocks differ by up to the skew agree
// on when a key expired. The sumd of before that fix has no such flag and
// refuses to start with it: run the test against that sumd with
// maxClockSkewArgs = nil.
var maxClockSkewArgs = []string{"-max-clock-skew", expiryMaxSkew.String()}

// The settings of TestExpiryAgreesEverywhere.
const (
	expiryKeyTTL  = 3 * time.Second        // every instance's -key-ttl
	expiryPurge   = 200 * time.Millisecond // -purge-interval
	expiryMaxSkew = 250 * time.Millisecond // -max-clock-skew
	expiryKeys    = 40
	expiryLoad    = 11 * time.Second       // more than three lifetimes of a key
	expiryResend  = 150 * time.Millisecond // how often each key is sent again
	expiryFault   = 400 * time.Millisecond // the pace of the Redis faults
	mysqlOnly     = 2                      // the instance with -redis-url off
)

// nominalEnd is how long after the start of a key's lifetime (its
// commit) the key has expired everywhere when the purge runs on time: its
// Redis record at -key-ttl, its MySQL row at the first purge after
// -key-ttl + 2×-max-clock-skew. The test does not rely on it: it watches
// sum_ledger (ledgerWatch) and takes a lifetime as ended when its row is
// seen gone and its record's deadline has passed.
const nominalEnd = expiryKeyTTL + 2*expiryMaxSkew + expiryPurge

// retentionGrace is how much later than nominalEnd a row may still be in
// sum_ledger before the test calls retention broken: generous, since a
// loaded machine delays the purge's ticks and its DELETE, which is no
// fault (the row is then MySQL's truth a while longer).
const retentionGrace = 30 * time.Second

// TestExpiryAgreesEverywhere sends keys again and again, for more than
// three times their -key-ttl, to three instances of which one is
// MySQL-only, while Redis is flushed or stalls now and then. A key's
// answer is the same everywhere within a lifetime; it changes (a new
// addition) only after the lifetime ended, and once it ended everywhere
// every instance adds anew and then replays that new answer. A cached
// record must not outlive the MySQL row it mirrors (docs/design.md#
// invariants, 8), and the total is each number once per lifetime. When a
// lifetime ended is measured, not assumed: a watcher polls sum_ledger for
// each lifetime's row, so that a purge a loaded machine delays is no
// failure, while an answer after the row was seen gone (and its record's
// deadline passed) is.
func TestExpiryAgreesEverywhere(t *testing.T) {
	t.Parallel()
	args := append([]string{"-key-ttl", expiryKeyTTL.String(), "-purge-interval", expiryPurge.String()}, maxClockSkewArgs...)
	c := harness.StartCluster(t, harness.Options{Instances: 3, RedisDB: harness.RedisDBExpiry, RedisProxy: true, Args: args,
		InstanceArgs: map[int][]string{mysqlOnly: {"-redis-url", "off"}}})
	c.FlushRedis(t) // the test's own database
	initial := harness.GetTotal(t, c.Instances[0])
	res := harness.NewResults()
	keys := harness.NewKeys("expiry", expiryKeys)
	rows := watchLedger(t, c)
	start := time.Now()
	stats := resendAll(t, c, res, keys, start.Add(expiryLoad))
	t.Logf("%d keys sent again every %v for %v to 3 instances (sumd%d MySQL-only) with Redis faults %s: %s",
		len(keys), expiryResend, time.Since(start).Round(time.Millisecond), mysqlOnly, harness.FormatCounts(stats.faults), stats.load)

	// Once a key's last lifetime has ended everywhere, any instance must
	// add it anew, and then every instance replay that.
	probeExpired(t, c, res, keys, rows)
	rows.stop()

	harness.CheckNo5xx(t, res, "expiry")
	checkLifetimes(t, c, res, initial, rows)
	harness.CheckRedisTTLs(t, c)
	checkRecordTTLs(t, c, expiryKeyTTL)
}

// resendStats are the figures of resendAll.
type resendStats struct {
	faults map[string]int
	load   string
}

// resendAll sends each of keys again and again until end, each time to a
// random instance (a third of the times two copies at once to two), while
// it flushes Redis or stalls it now and then.
func resendAll(t testing.TB, c *harness.Cluster, res *harness.Results, keys []harness.Key, end time.Time) resendStats {
	t.Helper()
	one, two := harness.NewDriver(t, c, res), harness.NewDriver(t, c, res)
	one.Dup, two.Dup = 1, 2
	one.GiveUp, two.GiveUp = 10*time.Second, 10*time.Second
	var wg sync.WaitGroup
	for i, k := range keys {
		wg.Go(func() {
			// Start the keys spread over a lifetime, so that their expiries
			// spread too.
			<-time.After(time.Duration(i) * expiryKeyTTL / time.Duration(len(keys)))
			tick := time.NewTicker(expiryResend) // the pace of the re-sends
			defer tick.Stop()
			for time.Now().Before(end) {
				d := one
				if rand.IntN(3) == 0 {
					d = two
				}
				d.SendKey(k, rand.IntN(len(c.Instances)))
				<-tick.C
			}
		})
	}
	faults := redisFaults(t, c, end)
	wg.Wait()
	c.RedisProxy.Heal()
	return resendStats{faults, fmt.Sprintf("one copy: %s; two copies: %s", &one.Stats, &two.Stats)}
}

// redisFaults flushes the Redis database of c or stalls the proxy to it
// (for one expiryFault) at random, until end, and counts what it did.
func redisFaults(t testing.TB, c *harness.Cluster, end time.Time) map[string]int {
	t.Helper()
	counts := map[string]int{}
	tick := time.NewTicker(expiryFault) // the pace of the faults
	defer tick.Stop()
	stalled := false
	for {
		<-tick.C
		if !time.Now().Before(end) {
			c.RedisProxy.Heal()
			return counts
		}
		if stalled {
			c.RedisProxy.Heal()
			stalled = false
			continue
		}
		switch rand.IntN(4) {
		case 0, 1:
			c.FlushRedis(t)
			counts["FLUSHDB"]++
		case 2:
			c.RedisProxy.Blackhole(true)
			stalled = true
			counts["Redis stall"]++
		}
	}
}

// lifetime is one addition of a key and every answer that carries it.
type lifetime struct {
	body  string
	first time.Time       // the earliest end of an answer with body: after the commit
	fresh []*harness.Send // the answers without Idempotent-Replayed
	sends []*harness.Send
}

// answer returns the attempt of s that got its 200.
func answer(s *harness.Send) *harness.Attempt { return s.Attempts[len(s.Attempts)-1] }

// lifetimes groups the 200s of ks by body (each addition of a key has a
// total of its own), in the order of their first answers.
func lifetimes(ks *harness.KeyState) []*lifetime {
	byBody := map[string]*lifetime{}
	var lts []*lifetime
	for _, s := range ks.Sends {
		if !s.OK {
			continue
		}
		lt := byBody[string(s.Body)]
		if lt == nil {
			lt = &lifetime{body: string(s.Body), first: answer(s).End}
			byBody[lt.body] = lt
			lts = append(lts, lt)
		}
		lt.first = minTime(lt.first, answer(s).End)
		lt.sends = append(lt.sends, s)
		if !s.Replayed {
			lt.fresh = append(lt.fresh, s)
		}
	}
	sort.Slice(lts, func(i, j int) bool { return lts[i].first.Before(lts[j].first) })
	return lts
}

// violations collects the failures of one kind, quoting the first few.
type violations struct {
	t    testing.TB
	what string
	n    int
}

func (v *violations) add(format string, args ...any) {
	v.t.Helper()
	if v.n++; v.n <= 5 {
		v.t.Errorf("%s: %s", v.what, fmt.Sprintf(format, args...))
	}
}

func (v *violations) report() {
	v.t.Helper()
	if v.n > 5 {
		v.t.Errorf("%s: %d times in all", v.what, v.n)
	}
}

// checkLifetimes checks every key's lifetimes in res: at most one
// addition each; no answer of a lifetime after the next one began or
// after it ended everywhere; no lifetime before the last one's key TTL
// passed; and the total is initial plus each number once per lifetime,
// the ledger row each key's last answer.
func checkLifetimes(t testing.TB, c *harness.Cluster, res *harness.Results, initial *big.Int, rows *ledgerWatch) {
	t.Helper()
	twice := &violations{t: t, what: "added twice in one lifetime"}
	unseen := &violations{t: t, what: "a lifetime without a fresh answer"}
	back := &violations{t: t, what: "an old answer after a new lifetime began"}
	late := &violations{t: t, what: "an answer after its lifetime ended everywhere"}
	early := &violations{t: t, what: "a new lifetime before the key TTL passed"}
	failed := &violations{t: t, what: "no 200"}
	want := new(big.Int).Set(initial)
	ledger := harness.LedgerTotals(t, c)
	lifetimesSeen, unwatched := 0, 0
	res.Each(func(ks *harness.KeyState) {
		uncertain := false
		for _, s := range ks.Sends {
			uncertain = uncertain || s.Uncertain()
			if !s.OK {
				failed.add("key %s: %s", ks.Name, s.Fail)
			}
		}
		lts := lifetimes(ks)
		lifetimesSeen += len(lts)
		want.Add(want, new(big.Int).Mul(new(big.Int).SetUint64(ks.Number), big.NewInt(int64(len(lts)))))
		for i, lt := range lts {
			if _, err := harness.ParseTotal([]byte(lt.body)); err != nil {
				t.Errorf("key %s: %v", ks.Name, err)
			}
			switch {
			case len(lt.fresh) > 1:
				twice.add("key %s: %d answers %q without Idempotent-Replayed", ks.Name, len(lt.fresh), lt.body)
			case len(lt.fresh) == 0 && !uncertain:
				unseen.add("key %s: %q only ever replayed", ks.Name, lt.body)
			}
			end, ended := rows.ended(ks.Name, lt.body)
			if !ended && i+1 < len(lts) {
				unwatched++ // a row the watcher never saw gone, though a new lifetime began
			}
			for _, s := range lt.sends {
				a := answer(s)
				if ended && a.Start.After(end) {
					late.add("key %s: %q from sumd%d (replayed=%v) sent %v after that lifetime ended everywhere (its row seen gone from sum_ledger, its record past its deadline)",
						ks.Name, lt.body, s.Inst, s.Replayed, a.Start.Sub(end).Round(time.Millisecond))
				}
				if i+1 < len(lts) && a.Start.After(lts[i+1].first) {
					back.add("key %s: %q from sumd%d (replayed=%v) sent %v after sumd%d answered the new %q",
						ks.Name, lt.body, s.Inst, s.Replayed, a.Start.Sub(lts[i+1].first).Round(time.Millisecond), lts[i+1].sends[0].Inst, lts[i+1].body)
				}
			}
			if i > 0 && len(lt.fresh) > 0 && len(lts[i-1].fresh) > 0 {
				prev, next := answer(lts[i-1].fresh[0]), answer(lt.fresh[0])
				if next.End.Before(prev.Start.Add(expiryKeyTTL)) {
					early.add("key %s: %q added by sumd%d %v after %q was sent, want at least the key TTL %v",
						ks.Name, lt.body, lt.fresh[0].Inst, next.End.Sub(prev.Start).Round(time.Millisecond), lts[i-1].body, expiryKeyTTL)
				}
			}
		}
		// The row of the last lifetime, unless purged after its key TTL.
		lastLT := lts[len(lts)-1]
		row, ok := ledger[ks.Name]
		if (ok && "{\"total\":"+row+"}\n" != lastLT.body) || (!ok && time.Since(lastLT.first) < expiryKeyTTL) {
			t.Errorf("key %s: sum_ledger total %q (row %v), want the last answer %q", ks.Name, row, ok, lastLT.body)
		}
	})
	for _, v := range []*violations{failed, twice, unseen, back, late, early} {
		v.report()
	}
	for _, in := range c.Live() {
		if got := harness.GetTotal(t, in); got.Cmp(want) != 0 {
			t.Errorf("GET /sum on %s = %v, want %v: initial %v + each key's number once per lifetime (%d lifetimes of %d keys); off by %v",
				in.Name, got, want, initial, lifetimesSeen, res.Len(), new(big.Int).Sub(got, want))
		}
	}
	t.Logf("%d keys, %d lifetimes: %d double additions, %d old answers after a new lifetime, %d answers after their lifetime ended, %d early lifetimes; %d ledger polls, %d ended lifetimes whose row the watcher did not see go",
		res.Len(), lifetimesSeen, twice.n, back.n, late.n, early.n, rows.polls(), unwatched)
}

// probeExpired sends each of keys, as soon as its last lifetime in res
// has ended everywhere (rows), to a random instance, which must add it
// anew, then to every instance, each of which must replay that answer.
// A row still in sum_ledger retentionGrace after nominalEnd fails t.
// Every answer joins res.
func probeExpired(t testing.TB, c *harness.Cluster, res *harness.Results, keys []harness.Key, rows *ledgerWatch) {
	t.Helper()
	last := map[string]*lifetime{}
	res.Each(func(ks *harness.KeyState) {
		lts := lifetimes(ks)
		last[ks.Name] = lts[len(lts)-1]
	})
	client := &http.Client{Timeout: 5 * time.Second}
	var wg sync.WaitGroup
	var mu sync.Mutex
	stale := 0
	for _, k := range keys {
		wg.Go(func() {
			lt := last[k.Name]
			ended := harness.WaitFor(t.Context(), time.Until(lt.first.Add(nominalEnd+retentionGrace)), func() bool {
				end, ok := rows.ended(k.Name, lt.body)
				return ok && time.Now().After(end)
			})
			if !ended {
				t.Errorf("key %s: the row of its last lifetime (%q) still in sum_ledger %v after that lifetime began, want it purged after -key-ttl + 2×-max-clock-skew (%v)",
					k.Name, lt.body, time.Since(lt.first).Round(time.Millisecond), expiryKeyTTL+2*expiryMaxSkew)
				return
			}
			first := rand.IntN(len(c.Instances))
			fresh := probe(t, client, c, res, k, first)
			if fresh == nil {
				return
			}
			if fresh.Replayed {
				mu.Lock()
				stale++
				mu.Unlock()
				t.Errorf("key %s on sumd%d, %v after its last lifetime began: got the replay %q, want a new addition",
					k.Name, first, time.Since(lt.first).Round(time.Millisecond), fresh.Body)
			}
			for inst := range c.Instances {
				r := probe(t, client, c, res, k, inst)
				if r != nil && (!r.Replayed || string(r.Body) != string(fresh.Body)) {
					t.Errorf("key %s on sumd%d after sumd%d answered %q (replayed=%v): got %q (replayed=%v), want the replay of %q",
						k.Name, inst, first, fresh.Body, fresh.Replayed, r.Body, r.Replayed, fresh.Body)
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d keys sent again once their last lifetime had ended everywhere: %d of them replayed an old answer at once", len(keys), stale)
}

// probe sends k to instance inst once and records a 200 in res; it fails
// t and returns nil for anything else.
func probe(t testing.TB, client *http.Client, c *harness.Cluster, res *harness.Results, k harness.Key, inst int) *harness.Response {
	t.Helper()
	sent := time.Now()
	resp, err := harness.SendOne(t.Context(), client, c.Instances[inst], k)
	if err != nil || resp.Status != http.StatusOK {
		t.Errorf("key %s on sumd%d: got %v %+v, want 200", k.Name, inst, err, resp)
		return nil
	}
	s := &harness.Send{Start: sent, End: time.Now(), OK: true, Body: resp.Body, Replayed: resp.Replayed, Inst: inst}
	s.Attempts = []*harness.Attempt{{Inst: inst, Start: s.Start, End: s.End, Status: resp.Status}}
	res.Add(k, s)
	return resp
}

// checkRecordTTLs fails t for a record in c's Redis that expires later
// than ttl from now.
func checkRecordTTLs(t testing.TB, c *harness.Cluster, ttl time.Duration) {
	t.Helper()
	ttls, err := harness.ScanTTLs(t.Context(), c.Redis, c.Prefix)
	if err != nil {
		t.Fatalf("%v", err)
	}
	for k, d := range ttls {
		if n, ok := harness.ParseRedisName(k); ok && n.Kind == "rec" && d > ttl {
			t.Errorf("Redis record %q: PTTL %v, want at most the key TTL %v", k, d, ttl)
		}
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// ledgerWatch polls sum_ledger every 100ms and notes, for each row (a
// lifetime of a key, by key and total), its created_ms and when a poll
// first no longer found it: when retention actually removed it, a fact
// measured on this machine as loaded as it is.
type ledgerWatch struct {
	mu      sync.Mutex
	rows    map[[2]string]*ledgerRowLife
	n       int // polls
	done    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

// ledgerRowLife is what ledgerWatch saw of one row.
type ledgerRowLife struct {
	created time.Time // created_ms, by sumd's clock: the lifetime's start
	gone    time.Time // after the first poll that did not find it; zero while found
}

// watchLedger starts polling c's sum_ledger (the test's alone) until stop
// or the test's end.
func watchLedger(t testing.TB, c *harness.Cluster) *ledgerWatch {
	w := &ledgerWatch{rows: map[[2]string]*ledgerRowLife{}, done: make(chan struct{}), stopped: make(chan struct{})}
	go func() {
		defer close(w.stopped)
		tick := time.NewTicker(100 * time.Millisecond) // the pace of the polls
		defer tick.Stop()
		for {
			w.poll(c)
			select {
			case <-w.done:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(w.stop)
	return w
}

// poll reads every row once; a failed poll notes nothing.
func (w *ledgerWatch) poll(c *harness.Cluster) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rows, err := c.DB.QueryContext(ctx, "SELECT idem_key, total, created_ms FROM sum_ledger")
	if err != nil {
		return
	}
	defer rows.Close()
	seen := map[[2]string]int64{}
	for rows.Next() {
		var key []byte
		var total string
		var created int64
		if rows.Scan(&key, &total, &created) != nil {
			return
		}
		seen[[2]string{string(key), total}] = created
	}
	if rows.Err() != nil {
		return
	}
	after := time.Now() // every row not found was gone by now
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n++
	for k, created := range seen {
		if w.rows[k] == nil {
			w.rows[k] = &ledgerRowLife{created: time.UnixMilli(created)}
		}
	}
	for k, r := range w.rows {
		if _, ok := seen[k]; !ok && r.gone.IsZero() {
			r.gone = after
		}
	}
}

// ended reports when the lifetime of key whose answers are body ended
// everywhere: its row seen gone from sum_ledger and its Redis record past
// its deadline (created + -key-ttl); ok is false while its row is there
// (or was never seen).
func (w *ledgerWatch) ended(key, body string) (end time.Time, ok bool) {
	total, err := harness.ParseTotal([]byte(body))
	if err != nil {
		return time.Time{}, false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.rows[[2]string{key, total.String()}]
	if r == nil || r.gone.IsZero() {
		return time.Time{}, false
	}
	// A millisecond for the record's deadline, kept in whole milliseconds.
	return maxTime(r.gone, r.created.Add(expiryKeyTTL+time.Millisecond)), true
}

// polls returns the number of polls that read sum_ledger.
func (w *ledgerWatch) polls() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// stop ends the polls and waits for the last one.
func (w *ledgerWatch) stop() {
	w.once.Do(func() { close(w.done) })
	<-w.stopped
}
