// Package redisstore is an idempotency.Store on Redis, through
// github.com/redis/go-redis/v9: one Redis, Redis behind Sentinel, or Redis
// Cluster (New takes any redis.UniversalClient). Every key it writes has an
// expiry: claims live for their lease and records until their deadline.
//
// # Key layout
//
// Under a prefix P, key K has two Redis names (ClaimName, RecordName):
//
//	P{H}:claim:K   the claim: the owner's token
//	P{H}:rec:K     the record: the encoded Record
//
// where H is the first 16 hex digits of the SHA-256 of K. {H} is a Redis
// Cluster hash tag: only H decides the slot, so a key's claim and record
// always share one slot (each Lua script touches only the KEYS it is given,
// the claim and record of one key, so nothing is ever cross-slot), while
// different keys spread over every master. H never holds a brace, so keys
// containing "{" or "}" work too; K itself follows the tag unchanged, so
// names stay readable and the last "claim:" or "rec:" of a name is followed
// by the idempotency key. A single Redis and Sentinel use the same layout.
// A record's MAC covers K, not its Redis name.
//
// P should hold no hash tag of its own on a cluster (CheckPrefix): Redis
// hashes the first "{...}" of a name, so a P such as "{app}:" puts every
// key of the Store in one slot on one master (it works, but nothing
// spreads), and a P containing "{}" makes Redis hash whole names, which
// puts a key's claim and record in different slots (every script then
// fails with CROSSSLOT). A "{" without a "}" after it in P is harmless:
// the tag then runs on into {H}, still one per key.
//
// # Failures and failover
//
// Each command is sent once: a failure goes straight to the caller (whose
// idempotency.Guard then relies on its fence), never retried by the Store
// or by go-redis, except that a cluster client still follows MOVED and ASK
// redirects (see once.go). Concurrent Claim and Complete calls share
// pipelined round trips; on a cluster go-redis splits such a pipeline into
// one per master. Redis replicates asynchronously, so a failover may lose
// recent claims and records: a lost claim lets a duplicate through to the
// fence, a lost record costs a lookup of the fence; neither can add twice.
//
// Nothing read from Redis is trusted. A record is replayed only if its
// HMAC (with the Store's secret, over its key and content) matches, its
// deadline has not passed and idempotency.ValidRecord accepts it; anything
// else at a record's name — undecodable bytes, another type, a value
// copied from another key or written without the secret — is deleted
// (compare-and-delete, so a genuine record written meanwhile stays) and
// reported as idempotency.ErrNotFound. A claim of another type is deleted,
// and one without an expiry, or with more than a lease left, is given one
// lease: no content blocks a key for longer than one lease.
package redisstore

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idemsum/idemsum/idempotency"
)

// ErrDuration reports a non-positive lease or ttl: the Store never writes
// a key without an expiry.
var ErrDuration = errors.New("redisstore: lease and ttl must be positive")

// Store is an idempotency.Store on Redis. It is safe for concurrent use by
// many goroutines and many processes sharing the Redis server.
type Store struct {
	c      redis.UniversalClient
	prefix string
	secret []byte
	pipe   *pipe  // Get, Claim, Put and Complete of concurrent callers share round trips
	reload func() // re-reads a cluster's topology; nil for other clients
}

// reloader is a cluster client, which maps slots to masters.
type reloader interface{ ReloadState(ctx context.Context) }

var (
	_ idempotency.Store     = (*Store)(nil)
	_ idempotency.Completer = (*Store)(nil)
)

// New returns a Store that keeps its keys under prefix in c and
// authenticates its records with secret. Every process sharing the keys
// must use the same secret; keep it out of Redis (sumd keeps it in MySQL).
// A nil secret still detects corruption and values moved between keys, but
// not forgery by someone who can write to Redis. Concurrent Get, Claim,
// Put and Complete calls are pipelined together, one round trip in flight
// at a time: calls that arrive meanwhile share the next one.
func New(c redis.UniversalClient, prefix string, secret []byte) *Store {
	s := &Store{c: c, prefix: prefix, secret: secret, pipe: newPipe(c, 1)}
	if r, ok := c.(reloader); ok {
		s.reload = func() { r.ReloadState(context.Background()) }
	}
	return s
}

// failed returns err wrapped with op. On a cluster it also asks go-redis
// to read the topology again (in the background; go-redis coalesces the
// requests): go-redis does so by itself on MOVED, not when a master it
// knows is unreachable, so without this a promoted replica would go
// unused until the next periodic reload.
func (s *Store) failed(op string, err error) error {
	if s.reload != nil {
		s.reload()
	}
	return fmt.Errorf("redisstore: %s: %w", op, err)
}

// Get returns key's record, or idempotency.ErrNotFound when it has none or
// holds one that cannot be trusted (which it deletes). Other errors mean
// Redis failed. A miss, the fresh key's case, costs one plain GET; a hit
// also reads the record's expiry, and repairs it if it was lost or
// stretched.
func (s *Store) Get(ctx context.Context, key string) (idempotency.Record, error) {
	name := s.recKey(key)
	if err := ctx.Err(); err != nil {
		return idempotency.Record{}, fmt.Errorf("redisstore: get: %w", err)
	}
	b, err := s.pipe.do("get", name).Text()
	switch {
	case errors.Is(err, redis.Nil):
		return idempotency.Record{}, idempotency.ErrNotFound
	case wrongType(err):
		// Not a string: never a record of the Store's, and nothing genuine
		// can replace it meanwhile (Put is SET NX), so it simply goes.
		s.pipe.do("del", name)
		return idempotency.Record{}, idempotency.ErrNotFound
	case err != nil:
		return idempotency.Record{}, s.failed("get", err)
	}
	rec, left, ok := s.trusted(ctx, key, name, b)
	if !ok {
		return idempotency.Record{}, idempotency.ErrNotFound
	}
	if pttl, err := s.pipe.do("pttl", name).Int64(); err == nil && stretched(pttl, left) {
		// A genuine record whose expiry was lost or stretched: give it back
		// its own deadline, unless it was replaced meanwhile.
		s.repair(ctx, name, b, left)
	}
	return rec, nil
}

// wrongType reports Redis's WRONGTYPE error: a name holding another type
// than the command works on.
func wrongType(err error) bool { return err != nil && strings.HasPrefix(err.Error(), "WRONGTYPE") }

// repair gives the value b at name the expiry left, unless it changed
// meanwhile (an expired record replaced by a new lifetime's).
func (s *Store) repair(ctx context.Context, name, b string, left time.Duration) {
	sum := sha1.Sum([]byte(b))
	repairScript.run(ctx, s.c, []string{name}, hex.EncodeToString(sum[:]), millis(left))
}

// discard deletes the value b at name unless it changed meanwhile.
func (s *Store) discard(ctx context.Context, name, b string) {
	sum := sha1.Sum([]byte(b))
	discardScript.run(ctx, s.c, []string{name}, hex.EncodeToString(sum[:]))
}

// Claim takes key's claim for lease with SET NX PX, atomically refusing
// with idempotency.ErrInFlight while a claim exists, and with
// idempotency.ErrCompleted (an ErrInFlight) while a record does.
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
		return "", s.failed("claim", err)
	}
	switch won {
	case 1:
		return token, nil
	case 2:
		return "", idempotency.ErrCompleted
	}
	return "", idempotency.ErrInFlight
}

// Release deletes key's claim if token owns it (compare-and-delete).
func (s *Store) Release(ctx context.Context, key, token string) error {
	err := releaseScript.run(ctx, s.c, []string{s.claimKey(key)}, token).Err()
	if err != nil {
		return s.failed("release", err)
	}
	return nil
}

// Put stores rec for ttl with SET NX PX, so the first record wins.
func (s *Store) Put(ctx context.Context, key string, rec idempotency.Record, ttl time.Duration) error {
	if ttl <= 0 {
		return ErrDuration
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: put: %w", err)
	}
	v := encode(key, rec, time.Now().Add(ttl), s.secret)
	// A plain SET NX: if another type sits at the name, nothing is stored
	// (the next Get deletes it).
	if err := s.pipe.do("set", s.recKey(key), v, "px", millis(ttl), "nx").Err(); err != nil && !errors.Is(err, redis.Nil) {
		return s.failed("put", err)
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
	v := encode(key, rec, time.Now().Add(ttl), s.secret)
	if err := s.pipe.run(completeScript, keys, v, millis(ttl), token).Err(); err != nil {
		return s.failed("complete", err)
	}
	return nil
}

func (s *Store) claimKey(key string) string { return ClaimName(s.prefix, key) }
func (s *Store) recKey(key string) string   { return RecordName(s.prefix, key) }

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
