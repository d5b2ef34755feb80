package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// CheckAll asserts every invariant over the keyed additions in res, made
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
//	    "MySQL unreachable" (docs/api.md), never a lost race or Redis.
func CheckAll(t testing.TB, c *Cluster, res *Results, initial *big.Int) {
	t.Helper()
	want := new(big.Int).Set(initial)
	var entries []SerialEntry
	var sends, replays int
	res.Each(func(ks *KeyState) {
		want.Add(want, new(big.Int).SetUint64(ks.Number))
		total, n, r := checkKey(t, ks)
		sends, replays = sends+n, replays+r
		if total != nil {
			entries = append(entries, SerialEntry{Name: "key " + ks.Name, Number: ks.Number, Total: total})
		}
	})
	// (a)
	for _, in := range c.Live() {
		if got := GetTotal(t, in); got.Cmp(want) != 0 {
			t.Errorf("(a) GET /sum on %s = %v, want %v (initial %v + each key's number once; off by %v)",
				in.Name, got, want, initial, new(big.Int).Sub(got, want))
		}
	}
	// (c)
	prev := CheckSerial(t, "(c) ", entries, initial)
	if len(entries) == res.Len() && prev.Cmp(want) != 0 {
		t.Errorf("(c) the last total in the serial order is %v, want the final total %v", prev, want)
	}
	// (d), (e)
	CheckLedger(t, c, res, want)
	checkNoRoutines(t, c)
	CheckRedisTTLs(t, c)
	if c.MySQLProxy == nil {
		CheckNoUnavailable(t, c, res)
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
	total, err := ParseTotal(body)
	if err != nil {
		t.Errorf("(b) key %s: %v", ks.Name, err)
	}
	return total, len(ks.Sends), replays
}

// CheckLedger checks (d): the ledger rows and the total in MySQL.
func CheckLedger(t testing.TB, c *Cluster, res *Results, want *big.Int) {
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
		wantTotal, _ := ParseTotal(body)
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
// function, trigger or event (docs/design.md#constraints).
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

// CheckRedisTTLs checks (e): every key under c's prefix has an expiry
// (on every master of a cluster).
func CheckRedisTTLs(t testing.TB, c *Cluster) {
	t.Helper()
	rdb := c.RedisClient()
	if rdb == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ttls, err := ScanTTLs(ctx, rdb, c.Prefix)
	if err != nil {
		t.Fatalf("(e) %v", err)
	}
	for k, ttl := range ttls {
		limit := KeyTTL // a record, or any other key: at most the key TTL
		if n, ok := ParseRedisName(k); ok && n.Kind == "claim" {
			limit = LeaseTTL
		}
		if ttl <= 0 || ttl > limit {
			t.Errorf("(e) Redis key %q: PTTL %v, want an expiry in (0, %v]", k, ttl, limit)
		}
	}
}

// CheckNoUnavailable checks (f): no attempt in res was answered 503. It
// quotes what the instances logged at level ERROR.
func CheckNoUnavailable(t testing.TB, c *Cluster, res *Results) {
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
		for _, line := range strings.Split(in.Log(), "\n") {
			var l struct{ Level, Msg, Err string }
			if json.Unmarshal([]byte(line), &l) == nil && l.Level == "ERROR" && !strings.Contains(l.Err, "idempotency:") && len(seen) < 5 {
				seen[l.Msg+": "+l.Err] = true
			}
		}
	}
	t.Errorf("(f) %d answers were 503 while MySQL was up all along, want none; the instances logged: %q", n, slices.Sorted(maps.Keys(seen)))
}

// SerialEntry is one addition's answer for CheckSerial.
type SerialEntry struct {
	Name   string // what an error calls it, such as "key K"
	Number uint64
	Total  *big.Int // the total its 200 answer carried
}

// CheckSerial sorts entries by total and fails t unless they form one
// serial order from initial: each total minus its number is the previous
// total. It returns the last total (initial for none). prefix starts each
// error.
func CheckSerial(t testing.TB, prefix string, entries []SerialEntry, initial *big.Int) *big.Int {
	t.Helper()
	slices.SortFunc(entries, func(a, b SerialEntry) int { return a.Total.Cmp(b.Total) })
	prev := new(big.Int).Set(initial)
	bad := 0
	for _, e := range entries {
		before := new(big.Int).Sub(e.Total, new(big.Int).SetUint64(e.Number))
		if before.Cmp(prev) != 0 {
			if bad++; bad <= 5 {
				t.Errorf("%s%s: total %v − number %d = %v, want the previous total %v", prefix, e.Name, e.Total, e.Number, before, prev)
			}
		}
		prev = e.Total
	}
	return prev
}

// CheckReady asserts GET /readyz on every instance: 200, MySQL up, and
// Redis in state redis.
func CheckReady(t testing.TB, c *Cluster, redis string) {
	t.Helper()
	for _, in := range c.Live() {
		resp := Call(t, in, http.MethodGet, "/readyz", nil, "", "")
		var got struct{ Status, MySQL, Redis string }
		if err := json.Unmarshal(resp.Body, &got); err != nil || resp.Status != http.StatusOK || got.MySQL != "up" || got.Redis != redis {
			t.Errorf("GET /readyz on %s: got %d %s, want 200 with \"mysql\":\"up\", \"redis\":%q", in.Name, resp.Status, resp.Body, redis)
		}
	}
}
