package mysql_test

import (
	"context"
	"testing"
	"time"

	"github.com/idemsum/idemsum"
	"github.com/idemsum/idemsum/internal/mariadbtopo"
	"github.com/idemsum/idemsum/mysql"
)

// TestReadOnlyServerDiscardsConnections: on a server turned read-only (a
// primary demoted to a replica) additions and reads fail, adding nothing,
// and the connection that met the read-only server is closed rather than
// pooled, so that the next one is dialled anew — to wherever the address
// leads by then. Once the server takes writes again so does the ledger.
func TestReadOnlyServerDiscardsConnections(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := mariadbtopo.Start(t, "server", mariadbtopo.Options{})
	if err := srv.CreateApp(ctx, "idemsum", "sumd", "pw"); err != nil {
		t.Fatal(err)
	}
	db, err := mysql.Open(ctx, srv.DSN("sumd", "pw", "idemsum"), 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := mysql.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	l := &mysql.Ledger{DB: db}
	if _, err := l.Add(ctx, []idemsum.Addition{{Key: "before", Number: 5}}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Exec(ctx, "SET GLOBAL read_only = ON"); err != nil {
		t.Fatal(err)
	}
	_, err = l.Add(ctx, []idemsum.Addition{{Key: "during", Number: 7}})
	if err == nil || idemsum.ErrorCode(err) != idemsum.EUNAVAILABLE {
		t.Errorf("Add on a read-only server: got %v, want an error that is a 503", err)
	}
	if n := db.Stats().OpenConnections; n != 0 {
		t.Errorf("after Add on a read-only server: %d connections open, want 0 (discarded)", n)
	}
	if _, err := l.Total(ctx); err == nil {
		t.Errorf("Total on a read-only server: got no error, want one (its total may lag)")
	}
	if n := db.Stats().OpenConnections; n != 0 {
		t.Errorf("after Total on a read-only server: %d connections open, want 0 (discarded)", n)
	}
	if err := srv.Exec(ctx, "SET GLOBAL read_only = OFF"); err != nil {
		t.Fatal(err)
	}
	res, err := l.Add(ctx, []idemsum.Addition{{Key: "during", Number: 7}})
	if err != nil || res[0].Total != "12" || res[0].Existing {
		t.Errorf("Add once writable again: got %+v, %v; want a new addition with total 12", res, err)
	}
	if got, err := l.Total(ctx); err != nil || got != "12" {
		t.Errorf("Total: got %q, %v; want 12", got, err)
	}
}
