package idemsum

import (
	"context"
	"net/http"
	"time"

	"idemsum/idempotency"
)

// Service adds numbers exactly once per key. Guard coordinates duplicates
// (claims, cached replays); Adder is the durable fence that records the key
// and changes the total in one transaction.
type Service struct {
	Adder  Adder
	Ledger Ledger
	Guard  *idempotency.Guard
}

// Fingerprint identifies the request "add n": a key reused with another
// number is a mismatch.
func Fingerprint(n uint64) string { return idempotency.Fingerprint("add", FormatNumber(n)) }

// Add adds n under key (or without a key when key is empty) and returns
// the response to send. It returns idempotency.ErrInFlight or
// idempotency.ErrMismatch for keyed duplicates, and other errors when the
// storage failed.
func (s *Service) Add(ctx context.Context, key string, n uint64) (idempotency.Result, error) {
	return s.AddWait(ctx, key, n, 0)
}

// AddWait is Add, except that a duplicate of a keyed addition in flight
// waits up to wait for its response (RFC 7240 "Prefer: wait") instead of
// failing at once with idempotency.ErrInFlight.
func (s *Service) AddWait(ctx context.Context, key string, n uint64, wait time.Duration) (idempotency.Result, error) {
	if key == "" {
		res, err := s.Adder.Add(ctx, Addition{Number: n})
		return idempotency.Result{Record: record(res)}, err
	}
	return s.Guard.DoWait(ctx, key, Fingerprint(n), wait, func(ctx context.Context) (idempotency.Record, bool, error) {
		res, err := s.Adder.Add(ctx, Addition{Key: key, Number: n})
		return record(res), res.Existing, err
	})
}

// Total returns the response body that reports the current total.
func (s *Service) Total(ctx context.Context) ([]byte, error) {
	t, err := s.Ledger.Total(ctx)
	if err != nil {
		return nil, err
	}
	return Body(t), nil
}

func record(r Result) idempotency.Record {
	return idempotency.Record{
		Fingerprint: Fingerprint(r.Number),
		Status:      http.StatusOK,
		ContentType: "application/json",
		Body:        Body(r.Total),
		Created:     r.Created,
	}
}
