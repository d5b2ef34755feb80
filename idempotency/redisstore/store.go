// Package redisstore is an idempotency.Store on Redis, through
// github.com/redis/go-redis/v9. Every key it writes has an expiry: claims
// live for their lease and records for their ttl.
//
// Under a prefix P, the claim of key K is the string P+"claim:"+K holding
// the owner's token, and its record is P+"rec:"+K holding the Encode'd
// Record. Claim reads both keys in one script, so on Redis Cluster P must
// carry a hash tag (such as "{idem}:") to put them in one slot.
package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"idemsum/idempotency"
)

// ErrDuration reports a non-positive lease or ttl: the Store never writes
// a key without an expiry.
var ErrDuration = errors.New("redisstore: lease and ttl must be positive")

// claimScript takes the claim KEYS[1] for token ARGV[1] and ARGV[2]
// milliseconds unless the claim or the record KEYS[2] exists.
var claimScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0`)

// releaseScript deletes the claim KEYS[1] if it holds token ARGV[1].
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

// completeScript stores the record KEYS[1] = ARGV[1] for ARGV[2]
// milliseconds unless one exists, then deletes the claim KEYS[2] if it
// holds token ARGV[3]: Put and Release in one round trip.
var completeScript = redis.NewScript(`
redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
return 1`)

// Store is an idempotency.Store on Redis. It is safe for concurrent use by
// many goroutines and many processes sharing the Redis server.
type Store struct {
	c      redis.UniversalClient
	prefix string
	pipe   *pipe // Claim and Complete of concurrent callers share round trips
}

var (
	_ idempotency.Store     = (*Store)(nil)
	_ idempotency.Completer = (*Store)(nil)
)

// New returns a Store that keeps its keys under prefix in c. Concurrent
// Claim and Complete calls are pipelined together, one round trip in
// flight at a time: calls that arrive meanwhile share the next one.
func New(c redis.UniversalClient, prefix string) *Store {
	return &Store{c: c, prefix: prefix, pipe: newPipe(c, 1)}
}

// Get returns key's record, idempotency.ErrNotFound when it has none, or
// an error when Redis fails or the stored value does not decode.
func (s *Store) Get(ctx context.Context, key string) (idempotency.Record, error) {
	b, err := s.c.Get(ctx, s.recKey(key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return idempotency.Record{}, idempotency.ErrNotFound
	}
	if err != nil {
		return idempotency.Record{}, fmt.Errorf("redisstore: get: %w", err)
	}
	return Decode(b)
}

// Claim takes key's claim for lease with SET NX PX, atomically refusing
// with idempotency.ErrInFlight while a claim or a record exists.
func (s *Store) Claim(ctx context.Context, key string, lease time.Duration) (string, error) {
	if lease <= 0 {
		return "", ErrDuration
	}
	token := newToken()
	keys := []string{s.claimKey(key), s.recKey(key)}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("redisstore: claim: %w", err)
	}
	won, err := s.pipe.run(claimScript, keys, token, millis(lease)).Int()
	if err != nil {
		return "", fmt.Errorf("redisstore: claim: %w", err)
	}
	if won != 1 {
		return "", idempotency.ErrInFlight
	}
	return token, nil
}

// Release deletes key's claim if token owns it (compare-and-delete).
func (s *Store) Release(ctx context.Context, key, token string) error {
	err := releaseScript.Run(ctx, s.c, []string{s.claimKey(key)}, token).Err()
	if err != nil {
		return fmt.Errorf("redisstore: release: %w", err)
	}
	return nil
}

// Put stores rec for ttl with SET NX PX, so the first record wins.
func (s *Store) Put(ctx context.Context, key string, rec idempotency.Record, ttl time.Duration) error {
	if ttl <= 0 {
		return ErrDuration
	}
	err := s.c.Do(ctx, "SET", s.recKey(key), Encode(rec), "PX", millis(ttl), "NX").Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("redisstore: put: %w", err)
	}
	return nil
}

// Complete is Put(key, rec, ttl) then Release(key, token), in one script.
func (s *Store) Complete(ctx context.Context, key, token string, rec idempotency.Record, ttl time.Duration) error {
	if ttl <= 0 {
		return ErrDuration
	}
	keys := []string{s.recKey(key), s.claimKey(key)}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: complete: %w", err)
	}
	if err := s.pipe.run(completeScript, keys, Encode(rec), millis(ttl), token).Err(); err != nil {
		return fmt.Errorf("redisstore: complete: %w", err)
	}
	return nil
}

func (s *Store) claimKey(key string) string { return s.prefix + "claim:" + key }
func (s *Store) recKey(key string) string   { return s.prefix + "rec:" + key }

// millis returns d in whole milliseconds, rounded up so it stays positive.
func millis(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// newToken returns 16 random bytes in hex.
func newToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}
