// Package idemsum is the domain of the idemsum service: a running total of
// natural numbers to which each number is added exactly once per
// idempotency key. It defines the types and interfaces that the storage
// (mysql/) and the HTTP edge (server/) share, and the rule for a number
// (number.go). It imports no other package of the module, no driver and
// no net/http: the idempotency toolkit (idempotency/) is its sibling, and
// the two meet only in server/service.go and in ledgercache (the records
// of a batch's keys, cached in Redis).
//
// The words of the write path, used alike in every package:
//   - addition: one number to add, with or without a key (Addition);
//   - batch: the additions committed in one MySQL transaction (Ledger.Add;
//     mysql/txplan.go plans it);
//   - group commit: gathering concurrent additions of one instance into
//     one batch (package groupcommit);
//   - existing: a key already recorded in the ledger, so nothing is added
//     and the first addition's result is returned (Result.Existing): the
//     fence, MySQL's primary key;
//   - claim: the in-flight lease on a key (idempotency.Store.Claim, in
//     Redis);
//   - record: the stored response of a completed key (idempotency.Record);
//     a replay is a response sent again from a record
//     (idempotency.Result.Replayed).
package idemsum

import (
	"context"
	"time"
)

// Addition asks to add Number (1..MaxNumber) to the total. With a non-empty
// Key the addition happens at most once for that Key of its Client; without
// one, every Addition adds.
type Addition struct {
	// Client names who sends the addition: keys are scoped per client, so
	// the same Key from two Clients is two additions. "" is the anonymous
	// client (every caller when the service runs without API tokens).
	Client string
	Key    string
	Number uint64
}

// KeyID is the identity of a key: the same Key from two Clients is two
// keys.
type KeyID struct{ Client, Key string }

// ID returns the identity of a's key.
func (a Addition) ID() KeyID { return KeyID{a.Client, a.Key} }

// Result is the outcome of one Addition.
type Result struct {
	// Total is the total right after the addition, in decimal digits.
	Total string
	// Existing reports that Key had already been recorded by an earlier
	// addition: nothing was added now, and Number and Total are the stored
	// ones of that earlier addition.
	Existing bool
	// Number is the number recorded under Key.
	Number uint64
	// Created is when Key was first recorded, by the clock of the instance
	// that recorded it: Key is remembered from then for the key TTL.
	Created time.Time
}

// Ledger keeps the total and the record of every keyed addition.
type Ledger interface {
	// Add commits adds in one serial order, each key at most once, and
	// returns one Result per Addition in the same order. A key that is
	// already recorded, or that appears earlier in adds, yields an Existing
	// Result and changes nothing. An error with code EUNAVAILABLE
	// (ErrorCode) means that nothing of adds was committed; any other error
	// means that none of adds is known to be committed: the outcome is
	// unknown, and only a retry with the same keys is safe. Add is safe for
	// concurrent use.
	Add(ctx context.Context, adds []Addition) ([]Result, error)

	// Total returns the current total in decimal digits. It changes
	// nothing, whatever its error.
	Total(ctx context.Context) (string, error)
}

// Adder adds one Addition, with Ledger.Add's guarantees. A group-commit
// batcher implements it by sharing one Ledger.Add among concurrent callers.
type Adder interface {
	Add(ctx context.Context, a Addition) (Result, error)
}

// Body returns the exact JSON body that reports total: {"total":N} and a
// newline. Replays send the same bytes.
func Body(total string) []byte {
	b := make([]byte, 0, len(total)+12)
	b = append(b, `{"total":`...)
	b = append(b, total...)
	return append(b, "}\n"...)
}

// Unbatched returns an Adder that gives each Addition its own Ledger.Add.
func Unbatched(l Ledger) Adder { return unbatched{l} }

type unbatched struct{ l Ledger }

func (u unbatched) Add(ctx context.Context, a Addition) (Result, error) {
	if err := CheckNumber(a.Number); err != nil {
		return Result{}, err
	}
	rs, err := u.l.Add(ctx, []Addition{a})
	if err != nil {
		return Result{}, err
	}
	return rs[0], nil
}
