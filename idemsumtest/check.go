package idemsumtest

import (
	"math/big"
	"slices"
	"testing"

	"github.com/idemsum/idemsum"
)

// outcome is one addition and the Result it got.
type outcome struct {
	add idemsum.Addition
	res idemsum.Result
}

// mustAdd sends adds through s and fails tb on an error or on a Result
// count other than len(adds) or a Result without Created.
func mustAdd(tb testing.TB, s subject, adds []idemsum.Addition) []idemsum.Result {
	tb.Helper()
	res, err := s.add(tb.Context(), adds)
	if err != nil {
		tb.Fatalf("add %v: got error %v, want nil", adds, err)
	}
	if len(res) != len(adds) {
		tb.Fatalf("add %v: got %d results, want %d", adds, len(res), len(adds))
	}
	for i, r := range res {
		if r.Created.IsZero() {
			tb.Errorf("add %v: result %d %+v: Created is zero, want when the key was recorded", adds, i, r)
		}
	}
	return res
}

// mustTotal returns l's Total and fails tb on an error.
func mustTotal(tb testing.TB, l idemsum.Ledger) string {
	tb.Helper()
	total, err := l.Total(tb.Context())
	if err != nil {
		tb.Fatalf("Total: got error %v, want nil", err)
	}
	return total
}

func bigOf(tb testing.TB, s string) *big.Int {
	tb.Helper()
	n, ok := new(big.Int).SetString(s, 10)
	if !ok || n.String() != s {
		tb.Fatalf("total %q: want decimal digits of a natural number", s)
	}
	return n
}

func num(n uint64) *big.Int { return new(big.Int).SetUint64(n) }

// chain is what the results so far imply, in serial order: the total and
// the first Result of every key.
type chain struct {
	total *big.Int
	first map[idemsum.KeyID]idemsum.Result
}

func newChain() *chain { return &chain{total: new(big.Int), first: map[idemsum.KeyID]idemsum.Result{}} }

// check fails tb unless res, the results of adds sent in one serial run
// after everything the chain has seen, follow from it: a key seen before
// is Existing with its first Number, Total and Created; any other
// addition is fresh, with its own Number and the total before it plus
// that Number.
func (c *chain) check(tb testing.TB, adds []idemsum.Addition, res []idemsum.Result) {
	tb.Helper()
	for i, a := range adds {
		r := res[i]
		if f, ok := c.first[a.ID()]; ok && a.Key != "" {
			if !r.Existing || r.Number != f.Number || r.Total != f.Total || !r.Created.Equal(f.Created) {
				tb.Errorf("addition %d %+v of a key recorded before: got %+v, want %+v Existing", i, a, r, f)
			}
			continue
		}
		want := new(big.Int).Add(c.total, num(a.Number))
		if r.Existing || r.Number != a.Number || r.Total != want.String() {
			tb.Errorf("addition %d %+v: got %+v, want a fresh Result with total %v (%v before it + %d) and number %d",
				i, a, r, want, c.total, a.Number, a.Number)
		}
		c.total = want
		if a.Key != "" {
			c.first[a.ID()] = r
		}
	}
}

// checkLinear fails tb unless the fresh results, sorted by total, each
// have a total of the one before plus their number, from 0 up to total:
// one serial order, which Total (total) ends.
func checkLinear(tb testing.TB, fresh []outcome, total string) {
	tb.Helper()
	sorted := slices.Clone(fresh)
	slices.SortFunc(sorted, func(a, b outcome) int { return bigOf(tb, a.res.Total).Cmp(bigOf(tb, b.res.Total)) })
	prev := new(big.Int)
	for _, o := range sorted {
		if want := new(big.Int).Add(prev, num(o.add.Number)); o.res.Number != o.add.Number || bigOf(tb, o.res.Total).Cmp(want) != 0 {
			tb.Errorf("addition %+v: got %+v, want total %v (the total before it, %v, + %d)", o.add, o.res, want, prev, o.add.Number)
		}
		prev = bigOf(tb, o.res.Total)
	}
	if prev.String() != total {
		tb.Errorf("Total: got %s, want %v (the last fresh Result's)", total, prev)
	}
}

// sameResult reports whether a and b are the same record of a key.
func sameResult(a, b idemsum.Result) bool {
	return a.Total == b.Total && a.Number == b.Number && a.Created.Equal(b.Created)
}
