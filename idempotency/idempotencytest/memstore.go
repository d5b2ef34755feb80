package idempotencytest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	"github.com/idemsum/idemsum/idempotency"
)

// errDuration reports a non-positive lease or ttl: nothing is stored
// without an expiry.
var errDuration = errors.New("idempotencytest: lease and ttl must be positive")

// sweepEvery is how many writes pass between sweeps of expired entries.
const sweepEvery = 1024

// MemStore is an in-memory idempotency.Store whose claims and records
// expire by an injected clock. It is safe for concurrent use, but shared by
// one process only.
type MemStore struct {
	now func() time.Time

	mu     sync.Mutex
	claims map[string]memClaim
	recs   map[string]memRecord
	writes int
}

type memClaim struct {
	token   string
	expires time.Time
}

type memRecord struct {
	rec     idempotency.Record
	expires time.Time
}

var _ idempotency.Store = (*MemStore)(nil)

// NewMemStore returns an empty MemStore that reads the time from now;
// a nil now means time.Now.
func NewMemStore(now func() time.Time) *MemStore {
	if now == nil {
		now = time.Now
	}
	return &MemStore{now: now, claims: map[string]memClaim{}, recs: map[string]memRecord{}}
}

// Get returns a copy of key's unexpired record, or idempotency.ErrNotFound.
func (s *MemStore) Get(ctx context.Context, key string) (idempotency.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recs[key]
	if !ok || !s.now().Before(r.expires) {
		return idempotency.Record{}, idempotency.ErrNotFound
	}
	return clone(r.rec), nil
}

// Claim takes key's lease unless an unexpired claim or record holds it
// (idempotency.ErrInFlight; idempotency.ErrCompleted for a record). A
// non-positive lease is an error.
func (s *MemStore) Claim(ctx context.Context, key string, lease time.Duration) (string, error) {
	if lease <= 0 {
		return "", errDuration
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if c, ok := s.claims[key]; ok && now.Before(c.expires) {
		return "", idempotency.ErrInFlight
	}
	if r, ok := s.recs[key]; ok && now.Before(r.expires) {
		return "", idempotency.ErrCompleted
	}
	token := newToken()
	s.claims[key] = memClaim{token: token, expires: now.Add(lease)}
	s.wrote(now)
	return token, nil
}

// Release ends key's claim if token owns it.
func (s *MemStore) Release(ctx context.Context, key, token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.claims[key]; ok && c.token == token {
		delete(s.claims, key)
	}
	return nil
}

// Put stores a copy of rec for ttl unless key has an unexpired record.
// A non-positive ttl is an error.
func (s *MemStore) Put(ctx context.Context, key string, rec idempotency.Record, ttl time.Duration) error {
	if ttl <= 0 {
		return errDuration
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if r, ok := s.recs[key]; ok && now.Before(r.expires) {
		return nil
	}
	s.recs[key] = memRecord{rec: clone(rec), expires: now.Add(ttl)}
	s.wrote(now)
	return nil
}

// wrote counts a write and now and then drops expired entries, so that
// memory stays bounded by the live keys. s.mu must be held.
func (s *MemStore) wrote(now time.Time) {
	if s.writes++; s.writes%sweepEvery != 0 {
		return
	}
	for k, c := range s.claims {
		if !now.Before(c.expires) {
			delete(s.claims, k)
		}
	}
	for k, r := range s.recs {
		if !now.Before(r.expires) {
			delete(s.recs, k)
		}
	}
}

func clone(r idempotency.Record) idempotency.Record {
	r.Body = append([]byte(nil), r.Body...)
	r.Header = r.Header.Clone()
	return r
}

// newToken returns 16 random bytes in hex.
func newToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}
