package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/idemsum/idemsum/auth"
	"github.com/idemsum/idemsum/server"
)

// openTokens loads the -auth-tokens file; nil when it is unset (everyone
// is the anonymous client). A bad file stops sumd with the file and line
// at fault.
func openTokens(cfg config) (*auth.Set, error) {
	if cfg.AuthTokens == "" {
		return nil, nil
	}
	return auth.Open(cfg.AuthTokens)
}

// access is who may add and read: tokens (nil: none), -auth-anonymous and
// -allowed-origins. It registers the tokens' metrics on reg.
func access(cfg config, tokens *auth.Set, reg prometheus.Registerer) server.Access {
	a := server.Access{AllowedOrigins: cfg.origins()}
	if tokens != nil {
		a.Tokens, a.AllowAnonymous = tokens.Current, cfg.AuthAnonymous
		tokens.Register(reg)
	}
	return a
}

// reloadOnHangup takes SIGHUP from now on and, in a goroutine until ctx is
// done, re-reads the tokens file on each one without stopping any request:
// a bad file is logged, idemsum_auth_reload_ok drops to 0 and the previous
// tokens stay. Without a tokens file SIGHUP is logged and ignored (its
// default would end the process).
func reloadOnHangup(ctx context.Context, tokens *auth.Set, log *slog.Logger) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	go func() {
		defer signal.Stop(ch)
		for {
			select {
			case <-ctx.Done():
				return
			case <-ch:
				reload(tokens, log)
			}
		}
	}()
}

// reload re-reads the tokens file, if any, and logs the result.
func reload(tokens *auth.Set, log *slog.Logger) {
	if tokens == nil {
		log.Info("SIGHUP: no -auth-tokens file to reload")
		return
	}
	if err := tokens.Reload(); err != nil {
		log.Error("SIGHUP: tokens file not reloaded; the previous tokens stay in use (idemsum_auth_reload_ok 0) until a good file is loaded", "err", err)
		return
	}
	log.Info("SIGHUP: tokens file reloaded", "path", tokens.Path(), "clients", tokens.Current().Len())
}
