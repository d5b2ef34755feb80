package mysql_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/idemsum/idemsum/internal/testenv"
	"github.com/idemsum/idemsum/mysql"
)

// TestLoadIdentityConcurrently: instances starting at once on one database
// all get the same identity, which stays across restarts; another
// database (another deployment) gets another one.
func TestLoadIdentityConcurrently(t *testing.T) {
	t.Parallel()
	dsn := testenv.MySQL(t)
	ctx := context.Background()
	if err := mysql.Migrate(ctx, openDB(t, dsn)); err != nil {
		t.Fatal(err)
	}
	ids := make([]mysql.Identity, 4)
	var wg sync.WaitGroup
	for i := range ids {
		db := openDB(t, dsn)
		wg.Go(func() {
			id, err := mysql.LoadIdentity(ctx, db)
			if err != nil {
				t.Errorf("instance %d: %v", i, err)
			}
			ids[i] = id
		})
	}
	wg.Wait()
	if len(ids[0].ID) != 16 || len(ids[0].Secret) != 32 {
		t.Fatalf("identity %q with %d-byte secret, want 16 hex digits and 32 bytes", ids[0].ID, len(ids[0].Secret))
	}
	for i, id := range ids {
		if id.ID != ids[0].ID || !bytes.Equal(id.Secret, ids[0].Secret) {
			t.Errorf("instance %d got identity %q, want %q (the same for all)", i, id.ID, ids[0].ID)
		}
	}
	again, err := mysql.LoadIdentity(ctx, openDB(t, dsn))
	if err != nil || again.ID != ids[0].ID {
		t.Errorf("after a restart got %q, %v; want %q", again.ID, err, ids[0].ID)
	}
	otherDB := openDB(t, testenv.MySQL(t))
	if err := mysql.Migrate(ctx, otherDB); err != nil {
		t.Fatal(err)
	}
	other, err := mysql.LoadIdentity(ctx, otherDB)
	if err != nil || other.ID == ids[0].ID || bytes.Equal(other.Secret, ids[0].Secret) {
		t.Errorf("another deployment got %q, %v; want an identity of its own", other.ID, err)
	}
}

// TestLoadIdentityRefusesAMalformedRow: a sum_deployment row altered by
// hand is an error wrapping mysql.ErrBadIdentity, and LoadIdentity leaves
// the row as it is.
func TestLoadIdentityRefusesAMalformedRow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openDB(t, testenv.MySQL(t))
	if err := mysql.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	if _, err := mysql.LoadIdentity(ctx, db); err != nil {
		t.Fatal(err)
	}
	for _, alter := range []string{
		"UPDATE sum_deployment SET deployment_id = 'short' WHERE id = 1",
		"UPDATE sum_deployment SET secret = 'short' WHERE id = 1",
	} {
		if _, err := db.Exec(alter); err != nil {
			t.Fatal(err)
		}
		_, err := mysql.LoadIdentity(ctx, db)
		if !errors.Is(err, mysql.ErrBadIdentity) {
			t.Errorf("after %q: got %v, want an error wrapping mysql.ErrBadIdentity", alter, err)
		}
	}
	var id string
	if err := db.QueryRow("SELECT deployment_id FROM sum_deployment WHERE id = 1").Scan(&id); err != nil || id != "short" {
		t.Errorf("the row after LoadIdentity: got %q, %v; want it left as altered", id, err)
	}
}
