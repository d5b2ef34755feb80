package idemsumtest

import (
	"context"
	"fmt"
	"testing"

	"github.com/idemsum/idemsum"
)

// unavailableBatches is how many batches testUnavailable sends.
const unavailableBatches = 120

// testUnavailable sends batches of new keys one after the other through
// flaky, and checks that every batch that failed with code
// idemsum.EUNAVAILABLE committed nothing: sent again at the end through s,
// each of its keys is fresh, not Existing. (A batch whose outcome was
// unknown may commit even after its Add returned; its keys are its own.)
// Batches hold three keys when s is batched, else one, since an Adder's
// error is one Addition's.
func testUnavailable(t *testing.T, s subject, flaky func(context.Context, []idemsum.Addition) ([]idemsum.Result, error)) {
	size := 1
	if s.batched {
		size = 3
	}
	var notAdded []idemsum.Addition
	unknown := 0
	for i := range unavailableBatches {
		adds := make([]idemsum.Addition, size)
		for j := range adds {
			adds[j] = idemsum.Addition{Key: fmt.Sprintf("unavailable-%03d-%d", i, j), Number: uint64(1 + j)}
		}
		_, err := flaky(context.Background(), adds)
		switch idemsum.ErrorCode(err) {
		case "":
		case idemsum.EUNAVAILABLE:
			notAdded = append(notAdded, adds...)
		default:
			unknown++
		}
	}
	t.Logf("of %d batches, %d failed with nothing added and %d with the outcome unknown", unavailableBatches, len(notAdded)/size, unknown)
	if len(notAdded) == 0 {
		return
	}
	for i, r := range mustAdd(t, s, notAdded) {
		if r.Existing {
			t.Errorf("key %s: recorded (%+v) by a batch that failed with code %s, want nothing of it committed", notAdded[i].Key, r, idemsum.EUNAVAILABLE)
		}
	}
}
