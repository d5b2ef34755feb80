// Package idemsum is the domain of the idemsum service: a running total of
// natural numbers to which each number is added exactly once per
// idempotency key. It defines the types and interfaces that the storage
// (mysql/), the coordination (idempotency/) and the HTTP edge (server/)
// share, and the Service that ties an Adder to an idempotency Guard.
// It imports no driver.
package idemsum

import (
	"context"
	"strconv"
	"time"
)

// MaxNumber is the largest number that can be added: 2^63-1.
const MaxNumber = 1<<63 - 1

// Addition asks to add Number (1..MaxNumber) to the total. With a non-empty
// Key the addition happens at most once for that Key; without one, every
// Addition adds.
type Addition struct {
	Key    string
	Number uint64
}

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
	// Result and changes nothing. An error means none of adds is known to be
	// committed: the outcome is unknown, and a retry with the same keys is
	// safe. Add is safe for concurrent use.
	Add(ctx context.Context, adds []Addition) ([]Result, error)

	// Total returns the current total in decimal digits.
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

// FormatNumber returns n in decimal.
func FormatNumber(n uint64) string { return strconv.FormatUint(n, 10) }

// Unbatched returns an Adder that gives each Addition its own Ledger.Add.
func Unbatched(l Ledger) Adder { return unbatched{l} }

type unbatched struct{ l Ledger }

func (u unbatched) Add(ctx context.Context, a Addition) (Result, error) {
	rs, err := u.l.Add(ctx, []Addition{a})
	if err != nil {
		return Result{}, err
	}
	return rs[0], nil
}
