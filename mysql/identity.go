package mysql

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
)

// Identity is what tells one deployment (one MySQL database) from another
// that may share its Redis: an ID for key names and a Secret for record
// MACs. Both are random, created once, and the same for every instance.
type Identity struct {
	ID     string // 16 lower-case hex digits
	Secret []byte // 32 random bytes
}

// ErrBadIdentity is LoadIdentity's error (wrapped) when the row of
// sum_deployment is there but malformed: altered by hand or restored
// wrongly. LoadIdentity never replaces it, since a new identity would
// part this instance from the others' Redis keys and records.
var ErrBadIdentity = errors.New("deployment identity in sum_deployment is malformed")

// LoadIdentity returns the deployment's Identity, creating it if this is
// the first instance to ask. Instances starting at once agree: the row is
// inserted only if absent (primary key), and every instance then reads the
// one that won. It needs Migrate to have run. A malformed row is an error
// wrapping ErrBadIdentity.
func LoadIdentity(ctx context.Context, db *sql.DB) (Identity, error) {
	id := make([]byte, 8)
	secret := make([]byte, 32)
	rand.Read(id)
	rand.Read(secret)
	_, err := db.ExecContext(ctx, `INSERT INTO sum_deployment (id, deployment_id, secret) VALUES (1, ?, ?)
ON DUPLICATE KEY UPDATE id = id`, hex.EncodeToString(id), secret)
	if err != nil {
		return Identity{}, fmt.Errorf("create deployment identity: %w", err)
	}
	var got Identity
	err = db.QueryRowContext(ctx, "SELECT deployment_id, secret FROM sum_deployment WHERE id = 1").Scan(&got.ID, &got.Secret)
	if err != nil {
		return Identity{}, fmt.Errorf("read deployment identity: %w", err)
	}
	if len(got.ID) != 16 || len(got.Secret) < 32 {
		return Identity{}, fmt.Errorf("%w (id %q, %d-byte secret)", ErrBadIdentity, got.ID, len(got.Secret))
	}
	return got, nil
}
