package e2e_test

import (
	"fmt"
	"math/big"
	"testing"
	"time"
)

// lossReport compares the additions answered 200 before the address moved
// to the promoted server with its ledger.
type lossReport struct {
	acked    int      // keys answered 200 before the address moved
	missing  []string // acknowledged, absent from the promoted ledger
	changed  []string // acknowledged, in the promoted ledger with another total: added again after the failover
	phantoms int      // missing keys still replayed from Redis after the move: an answer MySQL no longer backs
	amount   *big.Int // the sum of the numbers of the missing keys: what the total lacks
}

func (l lossReport) lost() int { return len(l.missing) + len(l.changed) }

func (l lossReport) String() string {
	return fmt.Sprintf("%d of %d additions acknowledged before the failover lost: %d absent from the promoted server (%d of them then replayed from Redis, a total MySQL no longer has; the total short by %v), %d added a second time after it with another total",
		l.lost(), l.acked, len(l.missing), l.phantoms, l.amount, len(l.changed))
}

// acknowledgedLoss returns which of the keys answered 200 before moved
// (the first such answer of each) the promoted server, c.DB, lacks.
func acknowledgedLoss(t testing.TB, c *Cluster, res *Results, moved time.Time) lossReport {
	t.Helper()
	ledger := ledgerTotals(t, c)
	l := lossReport{amount: new(big.Int)}
	res.Each(func(ks *KeyState) {
		var body []byte
		replayedAfter := false
		for _, s := range ks.Sends {
			if s.OK && s.End.Before(moved) && body == nil {
				body = s.Body
			}
			replayedAfter = replayedAfter || (s.OK && s.Replayed && !s.End.Before(moved))
		}
		if body == nil {
			return
		}
		l.acked++
		answered, err := parseTotal(body)
		if err != nil {
			t.Errorf("key %s: %v", ks.Name, err)
			return
		}
		switch got, ok := ledger[ks.Name]; {
		case !ok:
			l.missing = append(l.missing, ks.Name)
			l.amount.Add(l.amount, new(big.Int).SetUint64(ks.Number))
			if replayedAfter {
				l.phantoms++
			}
		case got != answered.String():
			l.changed = append(l.changed, ks.Name)
		}
	})
	return l
}
