package idemsumtest

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/idemsum/idemsum"
)

const maxN = idemsum.MaxNumber

// step is one batch of a serial subtest, the Results it must get, and
// the total after it.
type step struct {
	adds  []idemsum.Addition
	want  []idemsum.Result
	total string
}

func add(key string, n uint64) idemsum.Addition { return idemsum.Addition{Key: key, Number: n} }

// addAs is add from client.
func addAs(client, key string, n uint64) idemsum.Addition {
	return idemsum.Addition{Client: client, Key: key, Number: n}
}

func fresh(total string, n uint64) idemsum.Result { return idemsum.Result{Total: total, Number: n} }

func existing(total string, n uint64) idemsum.Result {
	return idemsum.Result{Total: total, Number: n, Existing: true}
}

// serialTests are the subtests whose batches are sent one after the
// other, plus Created.
func serialTests() []suiteTest {
	tests := []suiteTest{
		{"LinearTotals", testLinearTotals},
		{"HugeTotals", testHugeTotals},
		{"Created", testCreated},
	}
	for _, st := range []struct {
		name  string
		steps []step
	}{
		{"Empty", []step{{nil, nil, "0"}}},
		{"SerialOrder", []step{
			{[]idemsum.Addition{add("a", 5), add("", 7), add("b", 3)}, []idemsum.Result{fresh("5", 5), fresh("12", 7), fresh("15", 3)}, "15"},
			{[]idemsum.Addition{add("", 1)}, []idemsum.Result{fresh("16", 1)}, "16"},
			{[]idemsum.Addition{add("c", 2), add("d", 4)}, []idemsum.Result{fresh("18", 2), fresh("22", 4)}, "22"},
		}},
		{"DuplicatesInBatch", []step{
			{[]idemsum.Addition{add("a", 5), add("a", 5)}, []idemsum.Result{fresh("5", 5), existing("5", 5)}, "5"},
			{[]idemsum.Addition{add("b", 2), add("b", 9)}, []idemsum.Result{fresh("7", 2), existing("7", 2)}, "7"},
			{[]idemsum.Addition{add("c", 5), add("", 3), add("c", 9), add("d", 2), add("c", 5), add("d", 1), add("", 1)},
				[]idemsum.Result{fresh("12", 5), fresh("15", 3), existing("12", 5), fresh("17", 2), existing("12", 5), existing("17", 2), fresh("18", 1)}, "18"},
		}},
		{"DuplicatesAcrossBatches", []step{
			{[]idemsum.Addition{add("a", 5), add("", 3), add("b", 2)}, []idemsum.Result{fresh("5", 5), fresh("8", 3), fresh("10", 2)}, "10"},
			{[]idemsum.Addition{add("a", 5), add("", 3), add("b", 2)}, []idemsum.Result{existing("5", 5), fresh("13", 3), existing("10", 2)}, "13"},
			{[]idemsum.Addition{add("b", 7)}, []idemsum.Result{existing("10", 2)}, "13"},
			{[]idemsum.Addition{add("a", 1), add("a", 2)}, []idemsum.Result{existing("5", 5), existing("5", 5)}, "13"},
		}},
		{"ExistingKeys", []step{
			{[]idemsum.Addition{add("a", 5), add("b", 7)}, []idemsum.Result{fresh("5", 5), fresh("12", 7)}, "12"},
			{[]idemsum.Addition{add("c", 1), add("a", 9), add("d", 2), add("b", 7)},
				[]idemsum.Result{fresh("13", 1), existing("5", 5), fresh("15", 2), existing("12", 7)}, "15"},
			{[]idemsum.Addition{add("a", 5), add("b", 1)}, []idemsum.Result{existing("5", 5), existing("12", 7)}, "15"},
			{[]idemsum.Addition{add("a", 1), add("a", 2), add("", 10), add("e", 3), add("e", 4)},
				[]idemsum.Result{existing("5", 5), existing("5", 5), fresh("25", 10), fresh("28", 3), existing("28", 3)}, "28"},
		}},
		{"KeylessAlwaysAdds", []step{
			{[]idemsum.Addition{add("", 3), add("", 3), add("", 4)}, []idemsum.Result{fresh("3", 3), fresh("6", 3), fresh("10", 4)}, "10"},
			{[]idemsum.Addition{add("", 3)}, []idemsum.Result{fresh("13", 3)}, "13"},
			{[]idemsum.Addition{add("k", 1), add("", 1), add("k", 1), add("", 1)},
				[]idemsum.Result{fresh("14", 1), fresh("15", 1), existing("14", 1), fresh("16", 1)}, "16"},
		}},
		{"ExactKeys", []step{
			{[]idemsum.Addition{add("key", 1), add("Key", 2), add("KEY", 4), add("key ", 8), add(" key", 16), add("key", 32)},
				[]idemsum.Result{fresh("1", 1), fresh("3", 2), fresh("7", 4), fresh("15", 8), fresh("31", 16), existing("1", 1)}, "31"},
			{[]idemsum.Addition{add("KEY", 1), add("kEy", 64)}, []idemsum.Result{existing("7", 4), fresh("95", 64)}, "95"},
		}},
		{"KeysScopedPerClient", []step{
			{[]idemsum.Addition{add("k", 1), addAs("a", "k", 2), addAs("b", "k", 4), addAs("a", "k", 8), add("k", 16)},
				[]idemsum.Result{fresh("1", 1), fresh("3", 2), fresh("7", 4), existing("3", 2), existing("1", 1)}, "7"},
			{[]idemsum.Addition{addAs("b", "k", 4), addAs("a", "j", 32), add("j", 64), addAs("ab", "k", 128), addAs("a", "bk", 256)},
				[]idemsum.Result{existing("7", 4), fresh("39", 32), fresh("103", 64), fresh("231", 128), fresh("487", 256)}, "487"},
			{[]idemsum.Addition{add("k", 1), addAs("a", "j", 32), addAs("ab", "k", 1), addAs("b", "j", 512)},
				[]idemsum.Result{existing("1", 1), existing("39", 32), existing("231", 128), fresh("999", 512)}, "999"},
		}},
		{"MaxNumbers", []step{
			{[]idemsum.Addition{add("a", maxN), add("", maxN), add("b", maxN), add("a", 1)},
				[]idemsum.Result{fresh("9223372036854775807", maxN), fresh("18446744073709551614", maxN), fresh("27670116110564327421", maxN), existing("9223372036854775807", maxN)},
				"27670116110564327421"},
			{[]idemsum.Addition{add("", 1), add("b", 1)}, []idemsum.Result{fresh("27670116110564327422", 1), existing("27670116110564327421", maxN)}, "27670116110564327422"},
		}},
	} {
		tests = append(tests, suiteTest{st.name, func(t *testing.T, s subject) { runSteps(t, s, st.steps) }})
	}
	return tests
}

// runSteps sends each step's batch and compares its Results, but for
// Created, and the Total after it.
func runSteps(t *testing.T, s subject, steps []step) {
	for i, st := range steps {
		got := mustAdd(t, s, st.adds)
		for j, r := range got {
			r.Created = st.want[j].Created
			if r != st.want[j] {
				t.Errorf("step %d, addition %d %+v: got %+v, want %+v", i, j, st.adds[j], got[j], st.want[j])
			}
		}
		if got := mustTotal(t, s.ledger); got != st.total {
			t.Errorf("step %d: Total got %s, want %s", i, got, st.total)
		}
	}
}

// testLinearTotals sends random batches that mix keyless additions, new
// keys, keys repeated within the batch and keys of earlier batches, with
// numbers from 1 to MaxNumber: every Result follows from the ones before.
func testLinearTotals(t *testing.T, s subject) {
	rng := rand.New(rand.NewPCG(1, 2))
	c := newChain()
	for batch := range 12 {
		adds := make([]idemsum.Addition, 1+rng.IntN(24))
		for i := range adds {
			adds[i].Number = 1 + rng.Uint64N(maxN)
			if rng.IntN(4) == 0 {
				adds[i].Number = 1 + rng.Uint64N(100)
			}
			if rng.IntN(5) > 0 {
				adds[i].Key = fmt.Sprintf("key-%d", rng.IntN(40+batch*8))
			}
		}
		c.check(t, adds, mustAdd(t, s, adds))
	}
	if got := mustTotal(t, s.ledger); got != c.total.String() {
		t.Errorf("Total: got %s, want %v", got, c.total)
	}
}

// testHugeTotals adds numbers near 2^63 until the total is far past 2^64:
// every total stays exact, and so do the stored ones that replays return.
func testHugeTotals(t *testing.T, s subject) {
	c := newChain()
	var keyed []idemsum.Addition
	for batch := range 4 {
		var adds []idemsum.Addition
		for i := range 8 {
			a := idemsum.Addition{Number: maxN - uint64(i%3)}
			if i%2 == 0 {
				a.Key = fmt.Sprintf("k%d-%d", batch, i)
				keyed = append(keyed, a)
			}
			adds = append(adds, a)
		}
		c.check(t, adds, mustAdd(t, s, adds))
	}
	if limit := new(big.Int).Lsh(big.NewInt(1), 64); c.total.Cmp(limit) <= 0 {
		t.Fatalf("total %v: want it past 2^64 for this test", c.total)
	}
	if got := mustTotal(t, s.ledger); got != c.total.String() {
		t.Errorf("Total: got %s, want %v", got, c.total)
	}
	c.check(t, keyed, mustAdd(t, s, keyed))
}
