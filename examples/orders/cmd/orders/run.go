package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"

	"github.com/idemsum/idemsum/examples/orders"
	"github.com/idemsum/idemsum/idempotency"
	"github.com/idemsum/idemsum/idempotency/mysqlstore"
	"github.com/idemsum/idemsum/idempotency/redisstore"
)

// run serves the orders service until ctx is done.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	db, err := sql.Open("mysql", cfg.MySQLDSN)
	if err != nil {
		return err
	}
	defer db.Close()
	odb := &orders.DB{SQL: db}
	if err := odb.Migrate(ctx); err != nil {
		return err
	}
	store, err := newStore(ctx, cfg, db)
	if err != nil {
		return err
	}
	// The defaults: fail closed while the Store is down, the default
	// record policy. The handler's fence would allow RunUnguarded; see
	// docs/toolkit.md.
	guard := &idempotency.Guard{Store: store, Lease: cfg.Lease, TTL: cfg.KeyTTL,
		OnStoreError: func(op string, err error) { log.Warn("idempotency store failed", "op", op, "err", err) }}
	var wh orders.Warehouse = &orders.FakeWarehouse{Delay: cfg.WarehouseDelay}
	if cfg.WarehouseURL != "" {
		wh = &orders.HTTPWarehouse{URL: cfg.WarehouseURL}
	}
	return serve(ctx, cfg.Addr, orders.NewHandler(odb, wh, guard, log), log)
}

// newStore returns the Store -store names.
func newStore(ctx context.Context, cfg config, db *sql.DB) (idempotency.Store, error) {
	if cfg.Store == "mysql" {
		s := mysqlstore.New(db, "orders_idempotency", nil)
		go purge(ctx, s)
		return s, s.Migrate(ctx)
	}
	opt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("-redis-url: %w", err)
	}
	// A failed command goes straight back to the Guard, which decides.
	opt.MaxRetries, opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = -1, time.Second, time.Second, time.Second
	return redisstore.New(redis.NewClient(opt), cfg.RedisPrefix, []byte(cfg.RedisSecret)), nil
}

// purge deletes expired rows of s every minute, so its table stays the
// size of the keys alive.
func purge(ctx context.Context, s *mysqlstore.Store) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.DeleteExpired(ctx, 1000)
		}
	}
}

// serve serves h on addr until ctx is done, then shuts down gracefully.
func serve(ctx context.Context, addr string, h http.Handler, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	log.Info("listening", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
