package harness

import (
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// attemptsN is the part of a Send's Fail that differs between Sends.
var attemptsN = regexp.MustCompile(` after \d+ attempts`)

// CheckNo5xx fails t if any attempt in res got a 5xx, and logs every
// status and every reason a Send failed.
func CheckNo5xx(t testing.TB, res *Results, what string) {
	t.Helper()
	sts := StatusCounts(res)
	fivexx := 0
	for st, n := range sts {
		if st >= 500 {
			fivexx += n
		}
	}
	fails := map[string]int{}
	res.Each(func(ks *KeyState) {
		for _, s := range ks.Sends {
			if !s.OK {
				why, _, _ := strings.Cut(s.Fail, " from ")
				fails[attemptsN.ReplaceAllString(why, "")]++
			}
		}
	})
	t.Logf("%s: statuses of all attempts %v; Sends without a 200: %d %s", what, sts, SumCounts(fails), FormatCounts(fails))
	if fivexx > 0 {
		t.Errorf("%s: %d attempts were answered 5xx (%v), want none: Redis content must never cause a 5xx", what, fivexx, sts)
	}
}

// LedgerTotals returns sum_ledger's total of each key in c's MySQL.
func LedgerTotals(t testing.TB, c *Cluster) map[string]string {
	t.Helper()
	rows, err := c.DB.QueryContext(t.Context(), "SELECT idem_key, total FROM sum_ledger")
	if err != nil {
		t.Fatalf("read ledger: %v", err)
	}
	defer rows.Close()
	totals := map[string]string{}
	for rows.Next() {
		var k []byte
		var total string
		if err := rows.Scan(&k, &total); err != nil {
			t.Fatalf("scan ledger: %v", err)
		}
		totals[string(k)] = total
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read ledger: %v", err)
	}
	return totals
}

// CheckAnswersAreMySQLs fails t unless every 200 body of every key in res
// is {"total":T} and a newline, T the key's total in c's sum_ledger. It
// quotes the tampers written at a key (hits; nil for none) and returns
// the number of keys with another answer.
func CheckAnswersAreMySQLs(t testing.TB, c *Cluster, res *Results, hits map[string][]string, what string) int {
	t.Helper()
	ledger := LedgerTotals(t, c)
	bad, answered, replays := 0, 0, 0
	kinds := map[string]int{}
	res.Each(func(ks *KeyState) {
		total, inMySQL := ledger[ks.Name]
		want := "{\"total\":" + total + "}\n"
		var wrong []string
		for _, s := range ks.Sends {
			if !s.OK {
				continue
			}
			answered++
			if !inMySQL || string(s.Body) != want {
				wrong = append(wrong, fmt.Sprintf("%q from sumd%d (replayed=%v)", s.Body, s.Inst, s.Replayed))
				if s.Replayed {
					replays++
				}
			}
		}
		if len(wrong) == 0 {
			return
		}
		for _, k := range slices.Compact(slices.Sorted(slices.Values(hits[ks.Name]))) {
			kinds[k]++
		}
		if bad++; bad <= 8 {
			tampered := ""
			if hits != nil {
				tampered = fmt.Sprintf("; tampers at it %q", hits[ks.Name])
			}
			t.Errorf("%s: key %s: %d answers are not MySQL's (sum_ledger row %v, total %q%s): %s",
				what, ks.Name, len(wrong), inMySQL, total, tampered, strings.Join(wrong[:min(3, len(wrong))], ", "))
		}
	})
	if bad > 0 {
		tampered := ""
		if hits != nil {
			tampered = "; tampers at those keys " + FormatCounts(kinds)
		}
		t.Errorf("%s: %d keys got a 200 that is not MySQL's answer (%d such answers were replays, of %d answers)%s",
			what, bad, replays, answered, tampered)
	}
	return bad
}

// CheckTotalOfAnswered fails t unless MySQL's total is initial plus the
// number of each key in res that got a 200, once.
func CheckTotalOfAnswered(t testing.TB, c *Cluster, res *Results, initial *big.Int) {
	t.Helper()
	want := new(big.Int).Set(initial)
	answered := 0
	res.Each(func(ks *KeyState) {
		for _, s := range ks.Sends {
			if s.OK {
				want.Add(want, new(big.Int).SetUint64(ks.Number))
				answered++
				return
			}
		}
	})
	var total string
	if err := c.DB.QueryRowContext(t.Context(), "SELECT total FROM sum_total WHERE id = 1").Scan(&total); err != nil {
		t.Fatalf("read sum_total: %v", err)
	}
	if total != want.String() {
		got, _ := new(big.Int).SetString(total, 10)
		t.Errorf("sum_total.total = %s, want %v: initial %v + the numbers of the %d of %d keys answered 200, once each (off by %v)",
			total, want, initial, answered, res.Len(), new(big.Int).Sub(got, want))
	}
}
