package idemsumtest

import (
	"testing"
	"time"

	"github.com/idemsum/idemsum"
)

// testCreated checks Created by the real clock: a fresh Result's is the
// moment of its commit, within the call that made it (to the millisecond
// below, the precision of the MySQL Ledger), the same for every addition
// of one Ledger.Add; an Existing Result's is the first addition's.
func testCreated(t *testing.T, s subject) {
	first, from, to := timedAdd(t, s, []idemsum.Addition{add("a", 1), add("", 2), add("a", 3)})
	checkCreatedWithin(t, s, first[:2], from, to)
	if !first[2].Created.Equal(first[0].Created) {
		t.Errorf("key a repeated in its batch: Created got %v, want the first's %v", first[2].Created, first[0].Created)
	}
	// Let the clock move on by more than the precision, so that what is
	// Created from now on is Created later than the first batch.
	<-time.After(time.Until(to.Add(2 * time.Millisecond)))
	later, from, to := timedAdd(t, s, []idemsum.Addition{add("b", 4), add("a", 5), add("", 6)})
	checkCreatedWithin(t, s, []idemsum.Result{later[0], later[2]}, from, to)
	if !later[1].Created.Equal(first[0].Created) {
		t.Errorf("key a sent again: Created got %v, want the first addition's %v", later[1].Created, first[0].Created)
	}
	if !later[0].Created.After(first[0].Created) {
		t.Errorf("key b recorded after key a: Created got %v, want after a's %v", later[0].Created, first[0].Created)
	}
}

// timedAdd sends adds and returns their Results with the moments just
// before and just after.
func timedAdd(t *testing.T, s subject, adds []idemsum.Addition) (res []idemsum.Result, from, to time.Time) {
	t.Helper()
	from = time.Now()
	res = mustAdd(t, s, adds)
	return res, from, time.Now()
}

// checkCreatedWithin fails t unless each fresh Result of res was Created
// within [from, to] (from rounded down to the millisecond), and, when s
// commits a batch at once, all at the same moment.
func checkCreatedWithin(t *testing.T, s subject, res []idemsum.Result, from, to time.Time) {
	t.Helper()
	for i, r := range res {
		if r.Created.Before(from.Truncate(time.Millisecond)) || r.Created.After(to) {
			t.Errorf("fresh result %d %+v: Created got %v, want within the call, [%v, %v]", i, r, r.Created, from, to)
		}
		if s.batched && !r.Created.Equal(res[0].Created) {
			t.Errorf("fresh result %d %+v of one batch: Created got %v, want the batch's commit, %v like the first", i, r, r.Created, res[0].Created)
		}
	}
}
