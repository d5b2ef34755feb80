package idempotency

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

var (
	// ErrInFlight reports that another request holds the claim on the key.
	ErrInFlight = errors.New("idempotency: key is being processed by another request")
	// ErrMismatch reports a key reused with a different request fingerprint.
	ErrMismatch = errors.New("idempotency: key was already used with a different request")
	// ErrCompleted is the ErrInFlight a Store's Claim may return when it
	// refused because the key has a completed record (errors.Is it is also
	// ErrInFlight): if Get then finds none (expired, or thrown away as
	// untrusted), the Guard claims again instead of answering 409.
	ErrCompleted = fmt.Errorf("%w: it has a completed record", ErrInFlight)
	// ErrNotFound reports that a Store holds no completed record for a key.
	ErrNotFound = errors.New("idempotency: no completed record for key")
)

// Record is the completed response of a key, replayed byte for byte.
type Record struct {
	Fingerprint string // of the request that produced the response
	Status      int    // HTTP status code
	ContentType string // Content-Type of Body
	// Header holds the response's other headers to replay, such as
	// Location or ETag; nil for none. Stores keep it as given.
	Header http.Header
	Body   []byte
	// Created is when the key's effect was first recorded: the record is
	// remembered until Created plus the Guard's TTL (Result.Expires),
	// however often and wherever it is stored again. Stores keep it to the
	// millisecond. The Guard sets it to the time Func returned when Func
	// leaves it zero.
	Created time.Time
}

// Store keeps in-flight claims and completed records, each with an expiry.
// Implementations are safe for concurrent use by many goroutines and many
// processes sharing the same backend. Errors other than the sentinels below
// mean the backend is unavailable; callers may then carry on without it.
type Store interface {
	// Get returns the completed record of key, or ErrNotFound when there is
	// none or it has expired. A Store whose backend may hold content it did
	// not write (corrupt, forged, from another deployment) returns
	// ErrNotFound for it, never the content and never another error.
	Get(ctx context.Context, key string) (Record, error)

	// Claim takes the in-flight lease on key for lease and returns a random
	// token that proves ownership. It returns ErrInFlight while another
	// unexpired claim or an unexpired completed record holds the key. An
	// expired claim is taken over.
	Claim(ctx context.Context, key string, lease time.Duration) (token string, err error)

	// Release ends the claim on key if token still owns it; otherwise it does
	// nothing and returns nil (the claim expired and was taken over).
	Release(ctx context.Context, key, token string) error

	// Put stores rec as the completed record of key for ttl. The first record
	// stored for a key wins until it expires: later Puts leave it unchanged
	// and return nil. The Guard computes ttl so that the record expires at
	// rec.Created plus its TTL.
	Put(ctx context.Context, key string, rec Record, ttl time.Duration) error
}

// Completer is an optional extension of a Store whose backend can store a
// record and release a claim in one round trip. A Guard uses it when the
// Store has it.
type Completer interface {
	// Complete does Put(key, rec, ttl) and then Release(key, token), with
	// their semantics, as one operation.
	Complete(ctx context.Context, key, token string, rec Record, ttl time.Duration) error
}

// BatchStore is an optional extension of a Store that reads and writes
// the records of many keys in one round trip each, for a caller that
// handles requests in batches (sumd's ledgercache does, once per group
// commit). Its methods have Get's and Put's semantics key by key.
type BatchStore interface {
	// GetMany returns the record of each key: found[i] reports that
	// recs[i] is keys[i]'s. An error means the records could not be read
	// (the backend is unavailable); then nothing is found.
	GetMany(ctx context.Context, keys []string) (recs []Record, found []bool, err error)
	// PutMany stores each item as Put(item.Key, item.Record, item.TTL)
	// would: the first record stored for a key wins.
	PutMany(ctx context.Context, items []Item) error
}

// Item is one record for BatchStore.PutMany.
type Item struct {
	Key    string
	Record Record
	TTL    time.Duration
}
