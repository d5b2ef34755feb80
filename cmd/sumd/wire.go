package main

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	goredis "github.com/redis/go-redis/v9"

	"github.com/idemsum/idemsum"
	"github.com/idemsum/idemsum/auth"
	"github.com/idemsum/idemsum/groupcommit"
	"github.com/idemsum/idemsum/idempotency"
	"github.com/idemsum/idemsum/idempotency/redisstore"
	"github.com/idemsum/idemsum/internal/buildinfo"
	"github.com/idemsum/idemsum/ledgercache"
	"github.com/idemsum/idemsum/mysql"
	"github.com/idemsum/idemsum/redis"
	"github.com/idemsum/idemsum/server"
)

// wiring is what wire builds: the handlers' dependencies, the record
// cache in front of the ledger (for tracing to instrument), and Close,
// which stops group commit after the queued additions are flushed and
// waits for the records of the last batches to be cached.
type wiring struct {
	Deps  server.Deps
	Cache *ledgercache.Ledger
	Close func()
}

// wire builds the handlers' dependencies. Every Redis key of the
// deployment is under -redis-prefix plus its id, and records are signed
// with its secret, so deployments sharing a Redis never meet.
func wire(ctx context.Context, cfg config, db *sql.DB, rdb goredis.UniversalClient, id mysql.Identity, tokens *auth.Set, log *slog.Logger) wiring {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(buildinfo.Read().Collector())
	// Without -redis-claims the ledger's primary key answers a duplicate in
	// flight (it waits on the first's row lock, then finds the key): no
	// claim is needed, only the cached records, which the ledger's cache
	// keeps per batch. That fence also keeps additions exactly once while
	// Redis is down: run them (RunUnguarded).
	guard := &idempotency.Guard{Lease: cfg.LeaseTTL, TTL: cfg.KeyTTL, Fenced: !cfg.RedisClaims, StoreDown: idempotency.RunUnguarded}
	prefix := cfg.RedisPrefix + id.ID + ":"
	var health *redis.Health // nil without Redis
	if rdb != nil {
		health = redis.NewHealth(rdb, prefix+"probe", reg, log)
		go health.Watch(ctx, time.Second)
	}
	edge := server.NewMetrics(reg)
	guard.OnStoreError, guard.OnLeaseOverrun = health.StoreFailed, edge.LeaseOverrun
	ledger := &mysql.Ledger{DB: db, Metrics: mysql.NewMetrics(reg)}
	go ledger.PurgeEvery(ctx, cfg.PurgeInterval, mysql.Retention(cfg.KeyTTL, cfg.MaxClockSkew), cfg.PurgeBatch, log)
	// Without claims the records are cached per batch, in front of the
	// ledger: one look-up before a batch's transaction and one store after
	// it, instead of a Guard round trip before and after each request.
	cache := &ledgercache.Ledger{Ledger: ledger, TTL: cfg.KeyTTL, Metrics: ledgercache.NewMetrics(reg), OnError: health.StoreFailed}
	redis.RegisterUp(reg, func() bool { return (guard.Available() || cache.Available()) && health.Up() })
	batches := groupcommit.NewMetrics(reg) // registered with batching off too
	adder, closeAdder := idemsum.Unbatched(cache), func() {}
	if cfg.BatchMax > 1 {
		b := groupcommit.New(cache, cfg.BatchMax, cfg.BatchWait, cfg.BatchFlushers)
		b.Metrics, b.Fixed = batches, cfg.BatchFixed
		adder, closeAdder = b, b.Close
	}
	deps := server.Deps{
		Service:   &server.Service{Adder: adder, Ledger: ledger, Guard: guard},
		PingMySQL: mysqlReady(db),
		Logger:    log,
		Access:    access(cfg, tokens, reg),
		MaxWait:   cfg.MaxWait,
		Metrics:   edge,
		Gatherer:  reg,
	}
	if rdb != nil {
		store := redisstore.New(rdb, prefix, id.Secret)
		if cfg.RedisClaims {
			guard.Store = store
		} else {
			cache.Store = store
		}
		deps.RedisState = health.Check
	}
	return wiring{Deps: deps, Cache: cache, Close: func() { closeAdder(); cache.Wait() }}
}

// mysqlReady is /readyz's check of MySQL, mysql.Ready, with its
// read-only answer told as server.ErrMySQLReadOnly.
func mysqlReady(db *sql.DB) func(context.Context) error {
	return func(ctx context.Context) error {
		err := mysql.Ready(ctx, db)
		if errors.Is(err, mysql.ErrReadOnly) {
			return readOnly{err}
		}
		return err
	}
}

// readOnly is mysql.ErrReadOnly as the server knows it; its text is
// mysql.Ready's.
type readOnly struct{ error }

func (e readOnly) Unwrap() error      { return e.error }
func (readOnly) Is(target error) bool { return target == server.ErrMySQLReadOnly }
