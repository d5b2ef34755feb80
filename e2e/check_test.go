package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/big"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// totalBody is the exact shape of every 200 body: {"total":N} and a newline.
var totalBody = regexp.MustCompile(`^\{"total":(0|[1-9][0-9]*)\}\n$`)

// parseTotal returns N of a {"total":N} body.
func parseTotal(body []byte) (*big.Int, error) {
	m := totalBody.FindSubmatch(body)
	if m == nil {
		return nil, fmt.Errorf(`body %q is not {"total":N} and a newline`, body)
	}
	n, _ := new(big.Int).SetString(string(m[1]), 10)
	return n, nil
}

// getTotal reads GET /sum from in.
func getTotal(t testing.TB, in *Instance) *big.Int {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	req, _ := http.NewRequest(http.MethodGet, in.URL()+"/sum", nil)
	resp, err := do(c, req)
	if err != nil {
		t.Fatalf("GET /sum on %s: %v", in.Name, err)
	}
	if resp.Status != http.StatusOK {
		t.Fatalf("GET /sum on %s: got status %d, want 200; body %s", in.Name, resp.Status, resp.Body)
	}
	n, err := parseTotal(resp.Body)
	if err != nil {
		t.Fatalf("GET /sum on %s: %v", in.Name, err)
	}
	return n
}

// checkAll asserts every invariant over the keyed additions in res, made
// on c starting from the total initial, once the load is over:
//
//	(a) GET /sum on every live instance == initial + Σ numbers, each key once;
//	(b) every Send of every key got a 200, all bodies of a key byte-identical,
//	    at most one not marked Idempotent-Replayed (exactly one when no
//	    attempt of the key could have added unseen);
//	(c) linearizable: sorted by total, each total − its number is the
//	    previous total, from initial, strictly increasing, no gaps;
//	(d) MySQL: sum_ledger holds exactly these keys with their numbers and
//	    totals, sum_total the final total, and the database has no routines,
//	    triggers or events;
//	(e) every Redis key under c's prefix has an expiry, at most the lease
//	    for a claim and the key TTL for anything else;
//	(f) no answer was 503 unless the test took MySQL away: 503 means
//	    "MySQL unreachable" (DESIGN.md §2), never a lost race or Redis.
func checkAll(t testing.TB, c *Cluster, res *Results, initial *big.Int) {
	t.Helper()
	want := new(big.Int).Set(initial)
	var entries []serialEntry
	var sends, replays int
	res.Each(func(ks *KeyState) {
		want.Add(want, new(big.Int).SetUint64(ks.Number))
		total, n, r := checkKey(t, ks)
		sends, replays = sends+n, replays+r
		if total != nil {
			entries = append(entries, serialEntry{"key " + ks.Name, ks.Number, total})
		}
	})
	// (a)
	for _, in := range c.Live() {
		if got := getTotal(t, in); got.Cmp(want) != 0 {
			t.Errorf("(a) GET /sum on %s = %v, want %v (initial %v + each key's number once; off by %v)",
				in.Name, got, want, initial, new(big.Int).Sub(got, want))
		}
	}
	// (c)
	prev := checkSerial(t, "(c) ", entries, initial)
	if len(entries) == res.Len() && prev.Cmp(want) != 0 {
		t.Errorf("(c) the last total in the serial order is %v, want the final total %v", prev, want)
	}
	// (d), (e)
	checkLedger(t, c, res, want)
	checkNoRoutines(t, c)
	checkRedisTTLs(t, c)
	if c.MySQLProxy == nil {
		checkNoUnavailable(t, c, res)
	}
	t.Logf("checked %d keys, %d sends (%d replayed): total %v = initial %v + %v",
		res.Len(), sends, replays, want, initial, new(big.Int).Sub(want, initial))
}

// checkKey checks (b) for one key and returns its total (nil if the key
// failed), its number of Sends and of replays.
func checkKey(t testing.TB, ks *KeyState) (total *big.Int, sends, replays int) {
	t.Helper()
	var body []byte
	fresh, uncertain := 0, false
	for _, s := range ks.Sends {
		uncertain = uncertain || s.Uncertain()
		if !s.OK {
			t.Errorf("(b) key %s copy %d: no 200: %s", ks.Name, s.Copy, s.Fail)
			return nil, len(ks.Sends), replays
		}
		if body == nil {
			body = s.Body
		} else if !bytes.Equal(body, s.Body) {
			t.Errorf("(b) key %s: bodies differ: %q (first) and %q (from instance %d, replayed=%v)", ks.Name, body, s.Body, s.Inst, s.Replayed)
		}
		if s.Replayed {
			replays++
		} else {
			fresh++
		}
	}
	if fresh > 1 || (fresh == 0 && !uncertain) {
		t.Errorf("(b) key %s: %d responses without Idempotent-Replayed, want exactly 1 (or 0 when an attempt failed unseen)", ks.Name, fresh)
	}
	total, err := parseTotal(body)
	if err != nil {
		t.Errorf("(b) key %s: %v", ks.Name, err)
	}
	return total, len(ks.Sends), replays
}

// checkLedger checks (d): the ledger rows and the total in MySQL.
func checkLedger(t testing.TB, c *Cluster, res *Results, want *big.Int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var count int
	if err := c.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM sum_ledger").Scan(&count); err != nil {
		t.Fatalf("(d) count ledger: %v", err)
	}
	if count != res.Len() {
		t.Errorf("(d) SELECT COUNT(*) FROM sum_ledger = %d, want %d keys", count, res.Len())
	}
	var total string
	if err := c.DB.QueryRowContext(ctx, "SELECT total FROM sum_total WHERE id = 1").Scan(&total); err != nil {
		t.Fatalf("(d) read sum_total: %v", err)
	}
	if total != want.String() {
		t.Errorf("(d) sum_total.total = %s, want %v", total, want)
	}
	rows, err := c.DB.QueryContext(ctx, "SELECT idem_key, number, total FROM sum_ledger")
	if err != nil {
		t.Fatalf("(d) read ledger: %v", err)
	}
	defer rows.Close()
	type row struct{ number, total string }
	ledger := map[string]row{}
	for rows.Next() {
		var k []byte
		var r row
		if err := rows.Scan(&k, &r.number, &r.total); err != nil {
			t.Fatalf("(d) scan ledger: %v", err)
		}
		ledger[string(k)] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("(d) read ledger: %v", err)
	}
	bad := 0
	res.Each(func(ks *KeyState) {
		r, ok := ledger[ks.Name]
		var body []byte
		for _, s := range ks.Sends {
			if s.OK {
				body = s.Body
			}
		}
		wantTotal, _ := parseTotal(body)
		switch {
		case !ok:
			bad++
			if bad <= 5 {
				t.Errorf("(d) key %s: not in sum_ledger", ks.Name)
			}
		case r.number != fmt.Sprint(ks.Number) || (wantTotal != nil && r.total != wantTotal.String()):
			bad++
			if bad <= 5 {
				t.Errorf("(d) key %s: ledger row number %s total %s, want number %d total %v", ks.Name, r.number, r.total, ks.Number, wantTotal)
			}
		}
	})
}

// checkNoRoutines checks that the test database has no stored procedure,
// function, trigger or event (DESIGN.md §1).
func checkNoRoutines(t testing.TB, c *Cluster) {
	t.Helper()
	queries := map[string]string{
		"routines": "SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()",
		"triggers": "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()",
		"events":   "SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE()",
	}
	for what, q := range queries {
		var n int
		if err := c.DB.QueryRow(q).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", what, err)
		}
		if n != 0 {
			t.Errorf("(d) the database has %d %s, want none", n, what)
		}
	}
}

// checkRedisTTLs checks (e): every key under c's prefix has an expiry
// (on every master of a cluster).
func checkRedisTTLs(t testing.TB, c *Cluster) {
	t.Helper()
	rdb := c.redisClient()
	if rdb == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ttls, err := scanTTLs(ctx, rdb, c.Prefix)
	if err != nil {
		t.Fatalf("(e) %v", err)
	}
	for k, ttl := range ttls {
		limit := keyTTL // a record, or any other key: at most the key TTL
		if n, ok := parseRedisName(k); ok && n.Kind == "claim" {
			limit = leaseTTL
		}
		if ttl <= 0 || ttl > limit {
			t.Errorf("(e) Redis key %q: PTTL %v, want an expiry in (0, %v]", k, ttl, limit)
		}
	}
}

// checkNoUnavailable checks (f): no attempt in res was answered 503. It
// quotes what the instances logged at level ERROR.
func checkNoUnavailable(t testing.TB, c *Cluster, res *Results) {
	t.Helper()
	n := 0
	res.Each(func(ks *KeyState) {
		for _, s := range ks.Sends {
			for _, a := range s.Attempts {
				if a.Status == http.StatusServiceUnavailable {
					n++
				}
			}
		}
	})
	if n == 0 {
		return
	}
	seen := map[string]bool{}
	for _, in := range c.Instances {
		for _, line := range strings.Split(in.log.Tail(maxLog), "\n") {
			var l struct{ Level, Msg, Err string }
			if json.Unmarshal([]byte(line), &l) == nil && l.Level == "ERROR" && !strings.Contains(l.Err, "idempotency:") && len(seen) < 5 {
				seen[l.Msg+": "+l.Err] = true
			}
		}
	}
	t.Errorf("(f) %d answers were 503 while MySQL was up all along, want none; the instances logged: %q", n, slices.Sorted(maps.Keys(seen)))
}

// serialEntry is one addition's answer for checkSerial.
type serialEntry struct {
	name   string // what an error calls it, such as "key K"
	number uint64
	total  *big.Int // the total its 200 answer carried
}

// checkSerial sorts entries by total and fails t unless they form one
// serial order from initial: each total minus its number is the previous
// total. It returns the last total (initial for none). prefix starts each
// error.
func checkSerial(t testing.TB, prefix string, entries []serialEntry, initial *big.Int) *big.Int {
	t.Helper()
	slices.SortFunc(entries, func(a, b serialEntry) int { return a.total.Cmp(b.total) })
	prev := new(big.Int).Set(initial)
	bad := 0
	for _, e := range entries {
		before := new(big.Int).Sub(e.total, new(big.Int).SetUint64(e.number))
		if before.Cmp(prev) != 0 {
			if bad++; bad <= 5 {
				t.Errorf("%s%s: total %v − number %d = %v, want the previous total %v", prefix, e.name, e.total, e.number, before, prev)
			}
		}
		prev = e.total
	}
	return prev
}
