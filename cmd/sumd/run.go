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
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"idemsum"
	"idemsum/batch"
	"idemsum/idempotency"
	"idemsum/idempotency/redisstore"
	"idemsum/mysql"
	"idemsum/server"
)

// run starts sumd and serves until ctx is done, then shuts down
// gracefully. It reads no environment other than through getenv.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args[1:], getenv, stderr)
	if err != nil {
		return err
	}
	log, err := newLogger(stderr, cfg.LogLevel)
	if err != nil {
		return err
	}
	rdb, err := openRedis(cfg)
	if err != nil {
		return err
	}
	if rdb != nil {
		defer rdb.Close()
	}
	db, err := openMySQL(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	deps, closeAdder := wire(ctx, cfg, db, rdb, log)
	defer closeAdder()
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if cfg.DebugAddr != "" {
		go servePprof(cfg.DebugAddr, log)
	}
	fmt.Fprintf(stdout, "sumd listening on http://%s\n", ln.Addr())
	return serve(ctx, cfg, ln, server.NewServer(deps), log)
}

func openMySQL(ctx context.Context, cfg config) (*sql.DB, error) {
	start, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	db, err := mysql.Open(start, cfg.MySQLDSN, cfg.MySQLMaxConns)
	if err != nil {
		return nil, err
	}
	if err := mysql.Migrate(start, db); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// openRedis returns nil in MySQL-only mode. It does not wait for Redis:
// sumd starts, degraded, while Redis is down, and uses it once it answers.
func openRedis(cfg config) (*redis.Client, error) {
	if cfg.RedisURL == "" || cfg.RedisURL == "off" {
		return nil, nil
	}
	opt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("parse redis url: %w", err)
	}
	opt.DialTimeout = 250 * time.Millisecond
	opt.ReadTimeout = 250 * time.Millisecond
	opt.WriteTimeout = 250 * time.Millisecond
	opt.MaxRetries = 0
	// One dial per attempt: go-redis otherwise dials five times with a
	// 100ms backoff, so every probe of a Redis that refuses connections
	// would hold its requests for ~1.7s instead of the dial timeout.
	opt.DialerRetries = 1
	return redis.NewClient(opt), nil
}

// wire builds the handlers' dependencies; the returned func stops group
// commit after the queued additions are flushed.
func wire(ctx context.Context, cfg config, db *sql.DB, rdb *redis.Client, log *slog.Logger) (server.Deps, func()) {
	reg := prometheus.NewRegistry()
	guard := &idempotency.Guard{Lease: cfg.LeaseTTL, TTL: cfg.KeyTTL}
	m := newServiceMetrics(reg, guard.Available)
	guard.OnStoreError = degradedLogger(log, m)
	guard.OnLeaseOverrun = func(time.Duration) { m.overruns.Inc() }
	ledger := &mysql.Ledger{DB: db}
	go ledger.PurgeEvery(ctx, cfg.PurgeInterval, cfg.KeyTTL, cfg.PurgeBatch, func(n int64, err error) {
		m.purged.Add(float64(n))
		if err != nil {
			log.Warn("purge of expired keys failed", "err", err)
		}
	})
	adder, closeAdder := idemsum.Unbatched(ledger), func() {}
	if cfg.BatchMax > 1 {
		b := batch.New(ledger, cfg.BatchMax, cfg.BatchWait, cfg.BatchFlushers)
		b.OnFlush = func(n int) { m.batchSize.Observe(float64(n)) }
		adder, closeAdder = b, b.Close
	}
	deps := server.Deps{
		Service:   &idemsum.Service{Adder: countingAdder{adder, m.fenceHits}, Ledger: ledger, Guard: guard},
		PingMySQL: db.PingContext,
		Logger:    log,
		MaxWait:   cfg.MaxWait,
		Metrics:   server.NewMetrics(reg),
		Gatherer:  reg,
	}
	if rdb != nil {
		guard.Store = redisstore.New(rdb, cfg.RedisPrefix)
		deps.PingRedis = func(ctx context.Context) error { return rdb.Ping(ctx).Err() }
	}
	return deps, closeAdder
}

// serve runs the HTTP server until ctx is done, then stops accepting and
// lets in-flight requests finish within cfg.ShutdownTimeout.
func serve(ctx context.Context, cfg config, ln net.Listener, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// servePprof serves net/http/pprof on addr, for profiling in production.
func servePprof(addr string, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	if err := http.ListenAndServe(addr, mux); err != nil {
		log.Error("pprof server stopped", "err", err)
	}
}
