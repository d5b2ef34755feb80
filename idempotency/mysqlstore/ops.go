package mysqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/idemsum/idemsum/idempotency"
	"github.com/idemsum/idemsum/idempotency/internal/headercodec"
)

var _ idempotency.Store = (*Store)(nil)

// Get returns key's unexpired record, or idempotency.ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) (idempotency.Record, error) {
	var fp, ct, header, body []byte
	var created int64
	var rec idempotency.Record
	err := s.db.QueryRowContext(ctx, s.q.get, []byte(key), s.millis()).Scan(&fp, &rec.Status, &ct, &header, &created, &body)
	if errors.Is(err, sql.ErrNoRows) {
		return idempotency.Record{}, idempotency.ErrNotFound
	}
	if err != nil {
		return idempotency.Record{}, fmt.Errorf("mysqlstore: get: %w", err)
	}
	rec.Fingerprint, rec.ContentType, rec.Body = string(fp), string(ct), body
	if created > 0 {
		rec.Created = time.UnixMilli(created)
	}
	if rec.Header, err = headercodec.Decode(header); err != nil {
		return idempotency.Record{}, fmt.Errorf("mysqlstore: get: %w", err)
	}
	return rec, nil
}

// Claim takes key's claim for lease: it takes over the row when its claim
// and record have expired, or else inserts one. It returns
// idempotency.ErrInFlight when an unexpired claim or record holds the key.
func (s *Store) Claim(ctx context.Context, key string, lease time.Duration) (string, error) {
	if lease <= 0 {
		return "", ErrDuration
	}
	if err := checkKey(key); err != nil {
		return "", err
	}
	token, now := newToken(), s.millis()
	expires := now + durationMillis(lease)
	var taken int64
	err := retry(func() error {
		res, err := s.db.ExecContext(ctx, s.q.takeOver, token, expires, []byte(key), now, now)
		if err == nil {
			taken, err = res.RowsAffected()
		}
		return err
	})
	if err == nil && taken == 0 {
		err = retry(func() error {
			_, err := s.db.ExecContext(ctx, s.q.insertClaim, []byte(key), token, expires)
			return err
		})
	}
	switch {
	case isDuplicate(err):
		return "", idempotency.ErrInFlight
	case err != nil:
		return "", fmt.Errorf("mysqlstore: claim: %w", err)
	}
	return token, nil
}

// Release ends key's claim if token owns it.
func (s *Store) Release(ctx context.Context, key, token string) error {
	err := retry(func() error {
		_, err := s.db.ExecContext(ctx, s.q.release, []byte(key), token)
		return err
	})
	if err != nil {
		return fmt.Errorf("mysqlstore: release: %w", err)
	}
	return nil
}

// Put stores rec for ttl unless key has an unexpired record.
func (s *Store) Put(ctx context.Context, key string, rec idempotency.Record, ttl time.Duration) error {
	if ttl <= 0 {
		return ErrDuration
	}
	if err := checkKey(key); err != nil {
		return err
	}
	now := s.millis()
	exp := now + durationMillis(ttl)
	fp, ct, header, body := []byte(rec.Fingerprint), []byte(rec.ContentType), headercodec.Append(nil, rec.Header), nonNil(rec.Body)
	created := unixMilli(rec.Created)
	err := retry(func() error {
		_, err := s.db.ExecContext(ctx, s.q.put, []byte(key), fp, rec.Status, ct, header, created, body, exp,
			now, fp, now, rec.Status, now, ct, now, header, now, created, now, body, now, exp)
		return err
	})
	if err != nil {
		return fmt.Errorf("mysqlstore: put: %w", err)
	}
	return nil
}

// checkKey rejects a key the key column cannot hold whole.
func checkKey(key string) error {
	if len(key) > idempotency.MaxKeyLen {
		return fmt.Errorf("mysqlstore: key of %d bytes: %w", len(key), idempotency.ErrInvalidKey)
	}
	return nil
}

// unixMilli returns t in unix milliseconds, or 0 (none) for the zero time
// or a time before 1970.
func unixMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return max(0, t.UnixMilli())
}

// nonNil returns b, or an empty slice for nil, so a record's body is
// stored as an empty value rather than NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// newToken returns 16 random bytes in hex.
func newToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}
