package mysql

import (
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"

	"github.com/idemsum/idemsum"
)

// txPlan plans one Ledger.Add: the transaction to send (sql): which additions still need committing, and
// the results known so far.
type txPlan struct {
	adds    []idemsum.Addition
	res     []idemsum.Result
	done    []bool
	leader  []int                 // index of the first addition with the same scoped key, or -1
	byKey   map[idemsum.KeyID]int // scoped key → index of its first addition
	pending []int                 // indexes of leaders (and keyless adds) to commit
	nowMS   int64                 // the created_ms of the rows of the last sql
}

// less orders key identities as the primary key (client, idem_key) does.
func less(a, b idemsum.KeyID) bool {
	if a.Client != b.Client {
		return a.Client < b.Client
	}
	return a.Key < b.Key
}

func plan(adds []idemsum.Addition) *txPlan {
	p := &txPlan{
		adds:   adds,
		res:    make([]idemsum.Result, len(adds)),
		done:   make([]bool, len(adds)),
		leader: make([]int, len(adds)),
		byKey:  make(map[idemsum.KeyID]int, len(adds)),
	}
	for i, a := range adds {
		p.leader[i] = -1
		if first, ok := p.byKey[a.ID()]; ok && a.Key != "" {
			p.leader[i] = first
			continue
		}
		if a.Key != "" {
			p.byKey[a.ID()] = i
		}
		p.pending = append(p.pending, i)
	}
	return p
}

// sql returns the transaction for the pending additions, or "" if none:
//
//	START TRANSACTION;
//	INSERT INTO sum_ledger ... VALUES (client, key, number, rest, now), ...; -- fails on a recorded key
//	UPDATE sum_total SET total = total + <sum> WHERE id = 1;       -- takes the hot row lock
//	UPDATE sum_ledger SET total = (SELECT total FROM sum_total WHERE id = 1) - total WHERE <the batch's keys>;
//	SELECT total FROM sum_total WHERE id = 1;                      -- the total right after the batch
//	COMMIT;
//
// Six statements in one round trip (a keyless batch: four). The total is
// read while the batch still holds the row's lock; the caller uses it only
// once every result, COMMIT's last, has come back without an error, so
// nothing is acknowledged before it is durable.
//
// The ledger insert comes first so that a duplicate key fails the batch
// before the hot row is locked. Each key row is first written with its
// "rest" (the sum of the numbers after it in the batch) and then turned
// into the total right after its own addition. The sum and the rests are
// decimal literals written into the text (digits only), never strings, so
// that MySQL computes them exactly; clients and keys are interpolated
// placeholders.
func (p *txPlan) sql(nowMS int64) (string, []any) {
	if len(p.pending) == 0 {
		return "", nil
	}
	p.nowMS = nowMS
	sum := new(big.Int)
	rests := make([]string, len(p.pending))
	for j := len(p.pending) - 1; j >= 0; j-- {
		rests[j] = sum.String()
		sum.Add(sum, new(big.Int).SetUint64(p.adds[p.pending[j]].Number))
	}
	var b strings.Builder
	var args []any
	b.WriteString("START TRANSACTION;\n")
	var values []string
	var keys []idemsum.KeyID
	for _, j := range p.byKeyOrder() {
		a := p.adds[p.pending[j]]
		values = append(values, fmt.Sprintf("(?, ?, %d, %s, %d)", a.Number, rests[j], nowMS))
		args = append(args, a.Client, a.Key)
		keys = append(keys, a.ID())
	}
	if len(values) > 0 {
		b.WriteString("INSERT INTO sum_ledger (client, idem_key, number, total, created_ms) VALUES ")
		b.WriteString(strings.Join(values, ", "))
		b.WriteString(";\n")
	}
	fmt.Fprintf(&b, "UPDATE sum_total SET total = total + %s WHERE id = 1;\n", sum)
	if len(values) > 0 {
		where, wargs := keysWhere(keys)
		b.WriteString("UPDATE sum_ledger SET total = (SELECT total FROM sum_total WHERE id = 1) - total WHERE ")
		b.WriteString(where)
		b.WriteString(";\n")
		args = append(args, wargs...)
	}
	b.WriteString("SELECT total FROM sum_total WHERE id = 1;\nCOMMIT")
	return b.String(), args
}

// byKeyOrder returns the positions in pending of the keyed additions,
// sorted by (client, key), the primary key's order: concurrent batches then lock shared keys in one order,
// which avoids most deadlocks. Each row still carries the rest of its own
// position, so the serial order of the batch is unchanged.
func (p *txPlan) byKeyOrder() []int {
	var js []int
	for j, i := range p.pending {
		if p.adds[i].Key != "" {
			js = append(js, j)
		}
	}
	sort.Slice(js, func(a, b int) bool { return less(p.adds[p.pending[js[a]]].ID(), p.adds[p.pending[js[b]]].ID()) })
	return js
}

// committed fills in the results of the pending additions from the total
// right after the batch.
func (p *txPlan) committed(total string) error {
	t, ok := new(big.Int).SetString(total, 10)
	if !ok {
		return fmt.Errorf("batch total %q is not an integer", total)
	}
	for j := len(p.pending) - 1; j >= 0; j-- {
		i := p.pending[j]
		p.res[i] = idemsum.Result{Total: t.String(), Number: p.adds[i].Number, Created: time.UnixMilli(p.nowMS)}
		p.done[i] = true
		t.Sub(t, new(big.Int).SetUint64(p.adds[i].Number))
	}
	p.pending = nil
	return nil
}

// existing records that key was already in the ledger with number and
// total since createdMS, and takes it out of the pending additions; it
// reports whether key was still pending.
func (p *txPlan) existing(key idemsum.KeyID, number uint64, total string, createdMS int64) bool {
	i, ok := p.byKey[key]
	if !ok || p.done[i] {
		return false
	}
	p.res[i] = idemsum.Result{Total: total, Number: number, Existing: true, Created: time.UnixMilli(createdMS)}
	p.done[i] = true
	kept := p.pending[:0]
	for _, j := range p.pending {
		if j != i {
			kept = append(kept, j)
		}
	}
	p.pending = kept
	return true
}

// pendingKeys returns the scoped keys still to commit.
func (p *txPlan) pendingKeys() []idemsum.KeyID {
	var keys []idemsum.KeyID
	for _, i := range p.pending {
		if a := p.adds[i]; a.Key != "" {
			keys = append(keys, a.ID())
		}
	}
	return keys
}

// keysWhere returns the condition that selects exactly keys (which are
// sorted or at least grouped by client) and its arguments:
//
//	(client = ? AND idem_key IN (?, ...)) OR (client = ? AND ...)
//
// a range on the primary key for each client, in MySQL 8 and MariaDB.
func keysWhere(keys []idemsum.KeyID) (string, []any) {
	var b strings.Builder
	var args []any
	for i := 0; i < len(keys); {
		j := i
		for j < len(keys) && keys[j].Client == keys[i].Client {
			j++
		}
		if i > 0 {
			b.WriteString(" OR ")
		}
		b.WriteString("(client = ? AND idem_key IN (")
		b.WriteString(placeholders(j - i))
		b.WriteString("))")
		args = append(args, keys[i].Client)
		for _, k := range keys[i:j] {
			args = append(args, k.Key)
		}
		i = j
	}
	return b.String(), args
}

// results returns every addition's result; a repeated key gets its first
// addition's result, marked Existing.
func (p *txPlan) results() []idemsum.Result {
	for i, first := range p.leader {
		if first >= 0 {
			p.res[i] = p.res[first]
			p.res[i].Existing = true
		}
	}
	return p.res
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
