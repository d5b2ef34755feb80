package mysqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/idemsum/idemsum/idempotency"
	"github.com/idemsum/idemsum/idempotency/idempotencytest"
	"github.com/idemsum/idemsum/idempotency/mysqlstore"
	"github.com/idemsum/idemsum/internal/testenv"
)

var epoch = time.Unix(1_700_000_000, 0)

// openDB opens a database of tb's own on the test server; interpolate
// selects client-side parameter interpolation instead of server-side
// prepared statements.
func openDB(tb testing.TB, interpolate bool) *sql.DB {
	tb.Helper()
	cfg, err := mysql.ParseDSN(testenv.MySQL(tb))
	if err != nil {
		tb.Fatalf("parse DSN: %v", err)
	}
	cfg.InterpolateParams = interpolate
	return open(tb, cfg.FormatDSN())
}

func open(tb testing.TB, dsn string) *sql.DB {
	tb.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// newStore returns a migrated Store in a database of tb's own, on clock c.
func newStore(tb testing.TB, c *idempotencytest.Clock, interpolate bool) (*mysqlstore.Store, *sql.DB) {
	tb.Helper()
	db := openDB(tb, interpolate)
	s := mysqlstore.New(db, "idempotency", c.Now)
	if err := s.Migrate(tb.Context()); err != nil {
		tb.Fatalf("Migrate: %v", err)
	}
	return s, db
}

// TestConformance runs the suite with both ways the driver sends
// parameters, so binary keys, fingerprints and bodies survive either.
func TestConformance(t *testing.T) {
	for _, interpolate := range []bool{false, true} {
		t.Run(fmt.Sprint("interpolate=", interpolate), func(t *testing.T) {
			t.Parallel()
			var clocks sync.Map // *mysqlstore.Store → *idempotencytest.Clock
			idempotencytest.TestStore(t, idempotencytest.Harness{
				New: func(t *testing.T) idempotency.Store {
					c := idempotencytest.NewClock(epoch)
					s, _ := newStore(t, c, interpolate)
					clocks.Store(s, c)
					return s
				},
				Advance: func(t *testing.T, s idempotency.Store, d time.Duration) {
					c, _ := clocks.Load(s)
					c.(*idempotencytest.Clock).Advance(d)
				},
			})
		})
	}
}

// TestTwoProcesses races two Stores with their own connection pools and
// clocks on one table, as two instances of a service do.
func TestTwoProcesses(t *testing.T) {
	dsn := testenv.MySQL(t)
	stores := []*mysqlstore.Store{
		mysqlstore.New(open(t, dsn), "idempotency", idempotencytest.NewClock(epoch).Now),
		mysqlstore.New(open(t, dsn), "idempotency", idempotencytest.NewClock(epoch).Now),
	}
	errs := make(chan error, 32)
	var wg sync.WaitGroup
	for i := range cap(errs) {
		wg.Go(func() {
			s := stores[i%2]
			if err := s.Migrate(t.Context()); err != nil {
				errs <- err
				return
			}
			_, err := s.Claim(t.Context(), "k", time.Minute)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	won := 0
	for err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, idempotency.ErrInFlight):
			t.Fatalf("Migrate or Claim: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("claims from two processes: got %d winners, want 1", won)
	}
	rec := idempotency.Record{Fingerprint: "fp", Status: 200, Body: []byte("x")}
	mustNil(t, "Put", stores[0].Put(t.Context(), "k", rec, time.Hour))
	if got, err := stores[1].Get(t.Context(), "k"); err != nil || string(got.Body) != "x" {
		t.Fatalf("Get from the other process = %+v, %v; want %+v", got, err, rec)
	}
}

// TestMigrateConcurrently runs Migrate from many goroutines at once, as
// several instances starting together do, then again on the same table.
func TestMigrateConcurrently(t *testing.T) {
	db := openDB(t, false)
	s := mysqlstore.New(db, "weird`name", nil)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range cap(errs) {
		wg.Go(func() { errs <- s.Migrate(t.Context()) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		mustNil(t, "concurrent Migrate", err)
	}
	mustNil(t, "Migrate again", s.Migrate(t.Context()))
	mustNil(t, "Put", s.Put(t.Context(), "k", idempotency.Record{Status: 200}, time.Hour))
}

func TestDeleteExpired(t *testing.T) {
	c := idempotencytest.NewClock(epoch)
	s, db := newStore(t, c, false)
	ctx := t.Context()
	rec := idempotency.Record{Status: 200, Body: []byte("x")}
	for i := range 5 {
		mustNil(t, "Put", s.Put(ctx, fmt.Sprint("old", i), rec, time.Minute))
	}
	_, err := s.Claim(ctx, "released", time.Minute)
	mustNil(t, "Claim", err)
	c.Advance(2 * time.Minute)
	mustNil(t, "Put", s.Put(ctx, "live", rec, time.Minute))
	_, err = s.Claim(ctx, "held", time.Minute)
	mustNil(t, "Claim", err)

	tests := []struct{ limit, want int64 }{{4, 4}, {10, 2}, {10, 0}}
	for _, tt := range tests {
		got, err := s.DeleteExpired(ctx, int(tt.limit))
		if err != nil || got != tt.want {
			t.Fatalf("DeleteExpired(%d) = %d, %v; want %d, nil", tt.limit, got, err, tt.want)
		}
	}
	if got := countRows(t, db); got != 2 {
		t.Fatalf("rows left: got %d, want 2 (live record and held claim)", got)
	}
}

func countRows(tb testing.TB, db *sql.DB) int {
	tb.Helper()
	var n int
	if err := db.QueryRowContext(tb.Context(), "SELECT COUNT(*) FROM idempotency").Scan(&n); err != nil {
		tb.Fatalf("count rows: %v", err)
	}
	return n
}

func TestKeyTooLong(t *testing.T) {
	s, _ := newStore(t, idempotencytest.NewClock(epoch), false)
	key := strings.Repeat("k", idempotency.MaxKeyLen+1)
	_, claimErr := s.Claim(t.Context(), key, time.Minute)
	putErr := s.Put(t.Context(), key, idempotency.Record{}, time.Minute)
	for op, err := range map[string]error{"Claim": claimErr, "Put": putErr} {
		if !errors.Is(err, idempotency.ErrInvalidKey) {
			t.Errorf("%s with a %d-byte key: got error %v, want %v", op, len(key), err, idempotency.ErrInvalidKey)
		}
	}
}

// TestUnavailable checks that a Store whose database is gone fails every
// call with a non-sentinel error.
func TestUnavailable(t *testing.T) {
	db := openDB(t, false)
	s := mysqlstore.New(db, "missing", nil)
	db.Close()
	ctx := context.Background()
	_, getErr := s.Get(ctx, "k")
	_, claimErr := s.Claim(ctx, "k", time.Second)
	_, delErr := s.DeleteExpired(ctx, 10)
	tests := map[string]error{
		"Get":           getErr,
		"Claim":         claimErr,
		"Release":       s.Release(ctx, "k", "token"),
		"Put":           s.Put(ctx, "k", idempotency.Record{}, time.Second),
		"Migrate":       s.Migrate(ctx),
		"DeleteExpired": delErr,
	}
	for op, err := range tests {
		if err == nil || errors.Is(err, idempotency.ErrNotFound) || errors.Is(err, idempotency.ErrInFlight) {
			t.Errorf("%s on a closed database: got error %v, want a database error", op, err)
		}
	}
}

func mustNil(tb testing.TB, op string, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("%s: %v", op, err)
	}
}

// TestMigrateAddsColumns starts from a table made before records had
// headers and Created times, holding a record: Migrate, from several
// goroutines at once, adds the columns; the old record still reads, and
// new ones keep both.
func TestMigrateAddsColumns(t *testing.T) {
	db := openDB(t, false)
	ctx := t.Context()
	_, err := db.ExecContext(ctx, "CREATE TABLE old_idem ("+
		"idem_key VARBINARY(255) NOT NULL, token VARBINARY(64) NULL, claim_expires BIGINT NOT NULL DEFAULT 0, "+
		"record_expires BIGINT NOT NULL DEFAULT 0, fingerprint BLOB NULL, status INT NOT NULL DEFAULT 0, "+
		"content_type BLOB NULL, body LONGBLOB NULL, PRIMARY KEY (idem_key), KEY record_expires (record_expires)) ENGINE=InnoDB")
	mustNil(t, "create the old table", err)
	_, err = db.ExecContext(ctx, "INSERT INTO old_idem (idem_key, record_expires, fingerprint, status, content_type, body) VALUES ('old', ?, 'fp', 200, 'text/plain', 'hi')",
		time.Now().Add(time.Hour).UnixMilli())
	mustNil(t, "insert an old record", err)

	s := mysqlstore.New(db, "old_idem", nil)
	errs := make(chan error, 4)
	var wg sync.WaitGroup
	for range cap(errs) {
		wg.Go(func() { errs <- s.Migrate(ctx) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		mustNil(t, "concurrent Migrate of the old table", err)
	}
	got, err := s.Get(ctx, "old")
	mustNil(t, "Get the old record", err)
	if got.Fingerprint != "fp" || got.Status != 200 || got.ContentType != "text/plain" || string(got.Body) != "hi" || got.Header != nil || !got.Created.IsZero() {
		t.Errorf("old record: got %+v, want fp 200 text/plain \"hi\", no header and no Created time", got)
	}
	created := time.UnixMilli(1_900_000_000_123)
	rec := idempotency.Record{Fingerprint: "new", Status: 201, Header: http.Header{"Location": {"/x/1"}}, Body: []byte("{}"), Created: created}
	mustNil(t, "Put with a header", s.Put(ctx, "new", rec, time.Hour))
	got, err = s.Get(ctx, "new")
	mustNil(t, "Get the new record", err)
	if got.Header.Get("Location") != "/x/1" || len(got.Header) != 1 || !got.Created.Equal(created) {
		t.Errorf("new record: header %v, created %v; want Location /x/1 and %v", got.Header, got.Created, created)
	}
}
