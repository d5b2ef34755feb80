package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idemsum/idemsum/idempotency"
)

var _ idempotency.BatchStore = (*Store)(nil)

// GetMany is Get for each of keys, in one pipelined round trip of plain
// GETs (a cluster client splits it into one pipeline per master): found[i]
// reports that recs[i] is the trusted record of keys[i]. Content that
// cannot be trusted is deleted as Get deletes it and is not found; the
// expiry of a record found is checked (and repaired) in a second round
// trip, which only hits cost. An error means a round trip failed: then
// nothing is found, and the caller carries on as if Redis held nothing.
func (s *Store) GetMany(ctx context.Context, keys []string) (recs []idempotency.Record, found []bool, err error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("redisstore: get: %w", err)
	}
	names := make([]string, len(keys))
	cmds := make([]*redis.Cmd, len(keys))
	_, _ = s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			names[i] = s.recKey(k)
			cmds[i] = once(ctx, p, "get", names[i])
		}
		return nil
	})
	recs, found = make([]idempotency.Record, len(keys)), make([]bool, len(keys))
	var hits []int
	var lefts []time.Duration
	var values []string
	for i, cmd := range cmds {
		b, err := cmd.Text()
		switch {
		case errors.Is(err, redis.Nil):
			continue
		case wrongType(err):
			once(ctx, s.c, "del", names[i]) // as in Get: never a record of the Store's
			continue
		case err != nil:
			return nil, nil, s.failed("get", err)
		}
		rec, left, ok := s.trusted(ctx, keys[i], names[i], b)
		if ok {
			recs[i], found[i] = rec, true
			hits, lefts, values = append(hits, i), append(lefts, left), append(values, b)
		}
	}
	if len(hits) > 0 {
		s.repairExpiries(ctx, names, values, hits, lefts)
	}
	return recs, found, nil
}

// trusted decodes b, the value at name of key, and returns the record and
// how long it has left; a value that cannot be trusted is discarded
// (compare-and-delete) and ok is false.
func (s *Store) trusted(ctx context.Context, key, name, b string) (rec idempotency.Record, left time.Duration, ok bool) {
	rec, deadline, err := decode(key, []byte(b), s.secret)
	left = time.Until(deadline)
	if err != nil || idempotency.ValidRecord(rec) != nil || left <= 0 {
		s.discard(ctx, name, b)
		return idempotency.Record{}, 0, false
	}
	return rec, left, true
}

// repairExpiries gives each record found at names[hits[j]], values[j],
// back its own deadline, lefts[j] from now, if its expiry was lost or
// stretched and it was not replaced meanwhile, in one round trip to read
// the expiries (and one per record to repair, when needed). Its failures
// change no answer and are left to the next look-up.
func (s *Store) repairExpiries(ctx context.Context, names, values []string, hits []int, lefts []time.Duration) {
	pttls := make([]*redis.Cmd, len(hits))
	_, _ = s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for j, i := range hits {
			pttls[j] = once(ctx, p, "pttl", names[i])
		}
		return nil
	})
	for j, i := range hits {
		if pttl, err := pttls[j].Int64(); err == nil && stretched(pttl, lefts[j]) {
			s.repair(ctx, names[i], values[j], lefts[j])
		}
	}
}

// stretched reports a PTTL reply (milliseconds, -1 for none) longer than
// a record's deadline allows, left from now.
func stretched(pttl int64, left time.Duration) bool {
	return pttl == -1 || time.Duration(pttl)*time.Millisecond > left+time.Second
}

// PutMany is Put for each item, in one pipelined round trip of SET NX PX:
// the first record stored for a key wins. It stores nothing for an item
// without a positive TTL and returns ErrDuration for it, after storing the
// others.
func (s *Store) PutMany(ctx context.Context, items []idempotency.Item) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: put: %w", err)
	}
	var bad error
	now := time.Now()
	cmds := make([]*redis.Cmd, 0, len(items))
	_, _ = s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, it := range items {
			if it.TTL <= 0 {
				bad = ErrDuration
				continue
			}
			v := encode(it.Key, it.Record, now.Add(it.TTL), s.secret)
			cmds = append(cmds, once(ctx, p, "set", s.recKey(it.Key), v, "px", millis(it.TTL), "nx"))
		}
		return nil
	})
	for _, cmd := range cmds {
		if err := cmd.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return s.failed("put", err)
		}
	}
	return bad
}
