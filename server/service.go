package server

import (
	"context"
	"time"

	"github.com/idemsum/idemsum"
	"github.com/idemsum/idemsum/idempotency"
	"github.com/idemsum/idemsum/ledgercache"
)

// Service is the use case of the write path: it joins the domain (an
// idemsum.Adder, the durable fence that records the key and changes the
// total in one transaction) to the idempotency toolkit (a Guard that
// replays cached records and, unless it is Fenced, turns duplicates in
// flight away with claims).
type Service struct {
	Adder  idemsum.Adder
	Ledger idemsum.Ledger
	Guard  *idempotency.Guard
}

// fingerprint identifies the request "add n": a key reused with another
// number is a mismatch.
func fingerprint(n uint64) string { return ledgercache.Fingerprint(n) }

// Add adds a.Number under a.Key of a.Client (or without a key when Key is
// empty) and returns the response to send. Keys are scoped per client: the
// Guard keeps idempotency.ScopedKey(Client, Key), and the ledger's fence is
// (client, key). A duplicate of a keyed addition in flight gets the
// first's response: with a Fenced Guard once the first commits (the
// ledger's insert waits on its row lock); with claims it waits up to wait
// for it (RFC 7240 "Prefer: wait"), and with wait 0 fails at once with
// idempotency.ErrInFlight. It returns idempotency.ErrMismatch for
// a key used with another number, and other errors when the storage
// failed.
func (s *Service) Add(ctx context.Context, a idemsum.Addition, wait time.Duration) (idempotency.Result, error) {
	fp := fingerprint(a.Number)
	if a.Key == "" {
		res, err := s.Adder.Add(ctx, a)
		return idempotency.Result{Record: record(res, fp)}, err
	}
	key := idempotency.ScopedKey(a.Client, a.Key)
	return s.Guard.DoWait(ctx, key, fp, wait, func(ctx context.Context) (idempotency.Record, bool, error) {
		res, err := s.Adder.Add(ctx, a)
		rfp := fp
		if res.Number != a.Number { // an existing key recorded with another number
			rfp = fingerprint(res.Number)
		}
		return record(res, rfp), res.Existing, err
	})
}

// Total returns the response body that reports the current total.
func (s *Service) Total(ctx context.Context) ([]byte, error) {
	t, err := s.Ledger.Total(ctx)
	if err != nil {
		return nil, err
	}
	return idemsum.Body(t), nil
}

// record is the response to an addition, as the toolkit stores it; fp is
// the fingerprint of r.Number. A batch's cache (ledgercache) stores and
// reads the same records.
func record(r idemsum.Result, fp string) idempotency.Record { return ledgercache.RecordWith(r, fp) }
