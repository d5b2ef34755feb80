package mysql_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/idemsum/idemsum/internal/mariadbtopo"
	"github.com/idemsum/idemsum/internal/testenv"
	"github.com/idemsum/idemsum/mysql"
)

func TestMySQLReady(t *testing.T) {
	t.Parallel()
	writable := mariadbtopo.Start(t, "writable", mariadbtopo.Options{})
	readOnly := mariadbtopo.Start(t, "read-only", mariadbtopo.Options{ReadOnly: true})
	innodbRO := mariadbtopo.Start(t, "innodb-read-only", mariadbtopo.Options{Args: []string{"--innodb-read-only"}})
	for _, c := range []struct {
		name     string
		dsn      string
		readOnly bool
		ok       bool
	}{
		{"writable", writable.DSN("root", "", ""), false, true},
		{"read_only", readOnly.DSN("root", "", ""), true, false},
		{"innodb_read_only", innodbRO.DSN("root", "", ""), true, false},
		{"unreachable", "root@tcp(" + closedAddr(t) + ")/", false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			db, err := mysql.New(c.dsn, 2)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err = mysql.Ready(ctx, db)
			if got := err == nil; got != c.ok {
				t.Errorf("got %v, want ok=%v", err, c.ok)
			}
			if got := errors.Is(err, mysql.ErrReadOnly); got != c.readOnly {
				t.Errorf("got %v, want read-only=%v", err, c.readOnly)
			}
			if n := db.Stats().OpenConnections; c.readOnly && n != 0 {
				t.Errorf("%d connections open after a read-only answer, want 0 (discarded)", n)
			}
		})
	}
}

// closedAddr returns an address nothing listens on.
func closedAddr(t testing.TB) string {
	t.Helper()
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", port)
}
