package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"sync/atomic"

	"github.com/idemsum/idemsum/mysql"
	"github.com/idemsum/idemsum/redis"
	"github.com/idemsum/idemsum/server"
)

// run starts sumd and serves until ctx is done, then shuts down
// gracefully. It reads no environment other than through getenv. It
// listens at once, and serves the real routes (and prints "sumd listening
// on URL" to stdout) once MySQL answers and is migrated; until then
// /healthz answers and everything else is 503, and it keeps retrying.
// When ctx is done while it serves, it first drains for -shutdown-delay
// (server.Drain): /readyz answers 503 "draining" and requests are still served.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 1 && args[1] == "token" {
		return runToken(args[2:], stdout, stderr)
	}
	if len(args) > 1 && args[1] == "version" {
		return runVersion(stdout)
	}
	if len(args) > 1 && args[1] == "migrate" {
		return runMigrate(ctx, args[2:], getenv, stdout, stderr)
	}
	cfg, err := parseConfig(args[1:], getenv, stderr)
	if err != nil {
		return err
	}
	if cfg.Version {
		return runVersion(stdout)
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
	tr, err := newTracing(getenv)
	if err != nil {
		return err
	}
	defer tr.shutdown()
	log = tr.logger(log)
	reloadOnHangup(ctx, tokens, log)
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
	id, err := mysql.PrepareRetrying(ctx, db, cfg.Migrate, log, func(state, reason string) {
		starting.Store(&server.StartState{MySQL: state, Reason: reason})
	})
	if err != nil { // ctx is done before MySQL was ready: nothing to drain
		return srv.Wait(ctx, cfg.ShutdownTimeout)
	}
	w := wire(ctx, cfg, db, rdb, id, tokens, log)
	defer w.Close()
	tr.instrument(w)
	deps := w.Deps
	draining := &atomic.Bool{}
	deps.Draining = draining.Load
	h.set(server.NewServer(deps))
	fmt.Fprintf(stdout, "sumd listening on http://%s\n", srv.Addr())
	drained, stopDrain := server.Drain(ctx, hurryOf(ctx), cfg.ShutdownDelay, draining, log)
	defer stopDrain()
	return srv.Wait(drained, cfg.ShutdownTimeout)
}

// tuneGC collects garbage 4x less often than Go's default unless GOGC is
// set: the heap is a few MiB, and this saves ~10% CPU per request for a
// few MiB more.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
}
