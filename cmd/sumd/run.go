package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	goredis "github.com/redis/go-redis/v9"

	"idemsum"
	"idemsum/auth"
	"idemsum/groupcommit"
	"idemsum/idempotency"
	"idemsum/idempotency/redisstore"
	"idemsum/mysql"
	"idemsum/redis"
	"idemsum/server"
)

// run starts sumd and serves until ctx is done, then shuts down
// gracefully. It reads no environment other than through getenv. It
// listens at once, and serves the real routes (and prints "sumd listening
// on URL" to stdout) once MySQL answers and is migrated; until then
// /healthz answers and everything else is 503, and it keeps retrying.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 1 && args[1] == "token" {
		return runToken(args[2:], stdout, stderr)
	}
	cfg, err := parseConfig(args[1:], getenv, stderr)
	if err != nil {
		return err
	}
	tokens, err := openTokens(cfg)
	if err != nil {
		return err
	}
	tuneGC(getenv)
	log, stopLog, err := newLogger(context.WithoutCancel(ctx), stderr, cfg.LogLevel)
	if err != nil {
		return err
	}
	defer stopLog()
	reloadOnHangup(ctx, tokens, log)
	tr, err := newTracing(getenv)
	if err != nil {
		return err
	}
	defer tr.shutdown()
	rdb, mode, err := redis.Open(cfg.redisOptions())
	if err != nil {
		return err
	}
	if err := tr.instrumentRedis(rdb); err != nil {
		return err
	}
	if rdb != nil {
		defer rdb.Close()
		log.Info("redis client", "mode", mode)
	}
	db, err := tr.openMySQL(cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	h, starting := &swapHandler{}, &atomic.Pointer[server.StartState]{}
	starting.Store(&server.StartState{MySQL: mysql.StateDown, Reason: mysql.ReasonDown})
	h.set(server.Starting(func() server.StartState { return *starting.Load() }))
	srv, err := server.Listen(cfg.HTTPAddr, tr.handler(h), cfg.timeouts(), log)
	if err != nil {
		return err
	}
	log.Info("listening; waiting for MySQL", "addr", srv.Addr().String())
	if cfg.DebugAddr != "" {
		go server.ServePprof(cfg.DebugAddr, cfg.timeouts(), log)
	}
	id, err := mysql.PrepareRetrying(ctx, db, log, func(state, reason string) {
		starting.Store(&server.StartState{MySQL: state, Reason: reason})
	})
	if err == nil {
		deps, closeAdder := wire(ctx, cfg, db, rdb, id, tokens, log)
		defer closeAdder()
		tr.instrument(deps)
		h.set(server.NewServer(deps))
		fmt.Fprintf(stdout, "sumd listening on http://%s\n", srv.Addr())
	}
	return srv.Wait(ctx, cfg.ShutdownTimeout)
}

// tuneGC collects garbage 4x less often than Go's default unless GOGC is
// set: the heap is a few MiB, and this saves ~10% CPU per request for a
// few MiB more.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
}

// wire builds the handlers' dependencies; the returned func stops group
// commit after the queued additions are flushed. Every Redis key of the
// deployment is under -redis-prefix plus its id, and records are signed
// with its secret, so deployments sharing a Redis never meet.
func wire(ctx context.Context, cfg config, db *sql.DB, rdb goredis.UniversalClient, id mysql.Identity, tokens *auth.Set, log *slog.Logger) (server.Deps, func()) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Without -redis-claims the ledger's primary key answers a duplicate in
	// flight (it waits on the first's row lock, then finds the key): no
	// claim is needed, only the cached records.
	guard := &idempotency.Guard{Lease: cfg.LeaseTTL, TTL: cfg.KeyTTL, Fenced: !cfg.RedisClaims}
	prefix := cfg.RedisPrefix + id.ID + ":"
	var health *redis.Health // nil without Redis
	if rdb != nil {
		health = redis.NewHealth(rdb, prefix+"probe", reg, log)
		go health.Watch(ctx, time.Second)
	}
	redis.RegisterUp(reg, func() bool { return guard.Available() && health.Up() })
	edge := server.NewMetrics(reg)
	guard.OnStoreError, guard.OnLeaseOverrun = health.StoreFailed, edge.LeaseOverrun
	ledger := &mysql.Ledger{DB: db, Metrics: mysql.NewMetrics(reg)}
	go ledger.PurgeEvery(ctx, cfg.PurgeInterval, mysql.Retention(cfg.KeyTTL, cfg.MaxClockSkew), cfg.PurgeBatch, log)
	batches := groupcommit.NewMetrics(reg) // registered with batching off too
	adder, closeAdder := idemsum.Unbatched(ledger), func() {}
	if cfg.BatchMax > 1 {
		b := groupcommit.New(ledger, cfg.BatchMax, cfg.BatchWait, cfg.BatchFlushers)
		b.Metrics = batches
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
		guard.Store = redisstore.New(rdb, prefix, id.Secret)
		deps.RedisState = health.Check
	}
	return deps, closeAdder
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
