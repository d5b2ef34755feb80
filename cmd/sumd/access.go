package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"idemsum/auth"
	"idemsum/server"
)

// access is who may add and read: the -auth-tokens file (nil when unset:
// everyone is the anonymous client), -auth-anonymous and -allowed-origins.
type access struct {
	tokens    *auth.Set
	anonymous bool
	origins   []string
	reloads   *prometheus.CounterVec
	reloadOK  prometheus.Gauge // 1 when the file last read was good
	loadedAt  prometheus.Gauge // when the tokens in use were loaded
	now       func() time.Time
}

// openAccess loads the tokens file, if any; a bad file stops sumd with the
// file and line at fault.
func openAccess(cfg config) (*access, error) {
	a := &access{origins: cfg.origins(), anonymous: cfg.AuthAnonymous, now: time.Now,
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idemsum_auth_reloads_total",
			Help: "Reloads of the -auth-tokens file on SIGHUP by result (ok, error).",
		}, []string{"result"}),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "idemsum_auth_reload_ok",
			Help: "1 when the last read of the -auth-tokens file (at start or on SIGHUP) succeeded; 0 when it failed and older tokens are still in use.",
		}),
		loadedAt: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "idemsum_auth_loaded_timestamp_seconds",
			Help: "Unix time at which the -auth-tokens in use were read.",
		}),
	}
	if cfg.AuthTokens == "" {
		return a, nil
	}
	set, err := auth.Open(cfg.AuthTokens)
	if err != nil {
		return nil, err
	}
	a.tokens = set
	a.loaded(nil)
	return a, nil
}

// loaded records the result of a read of the tokens file.
func (a *access) loaded(err error) {
	if err != nil {
		a.reloadOK.Set(0)
		return
	}
	a.reloadOK.Set(1)
	a.loadedAt.Set(float64(a.now().UnixNano()) / 1e9)
}

// origins is -allowed-origins as a list.
func (c config) origins() []string {
	var out []string
	for o := range strings.SplitSeq(c.AllowedOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	return out
}

// server returns the server's Access, with its metrics on reg:
// idemsum_auth_denied_total{reason}, and with a tokens file
// idemsum_auth_clients, idemsum_auth_reloads_total{result},
// idemsum_auth_reload_ok and idemsum_auth_loaded_timestamp_seconds.
func (a *access) server(reg prometheus.Registerer) server.Access {
	sa := server.Access{AllowedOrigins: a.origins}
	if a.tokens != nil {
		sa.Tokens, sa.AllowAnonymous = a.tokens.Current, a.anonymous
		reg.MustRegister(a.reloads, a.reloadOK, a.loadedAt, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "idemsum_auth_clients",
			Help: "Clients in the -auth-tokens file as last loaded.",
		}, func() float64 { return float64(a.tokens.Current().Len()) }))
	}
	return sa
}

// reloadOnHangup takes SIGHUP from now on and, in a goroutine until ctx is
// done, re-reads the tokens file on each one without stopping any request:
// a bad file is logged, idemsum_auth_reload_ok drops to 0 and the previous
// tokens stay. Without a tokens file SIGHUP is logged and ignored (its
// default would end the process).
func (a *access) reloadOnHangup(ctx context.Context, log *slog.Logger) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	go func() {
		defer signal.Stop(ch)
		for {
			select {
			case <-ctx.Done():
				return
			case <-ch:
				a.reload(log)
			}
		}
	}()
}

// reload re-reads the tokens file, if any, and logs and records the result.
func (a *access) reload(log *slog.Logger) {
	if a.tokens == nil {
		log.Info("SIGHUP: no -auth-tokens file to reload")
		return
	}
	err := a.tokens.Reload()
	a.loaded(err)
	if err != nil {
		a.reloads.WithLabelValues("error").Inc()
		log.Error("SIGHUP: tokens file not reloaded; the previous tokens stay in use (idemsum_auth_reload_ok 0) until a good file is loaded", "err", err)
		return
	}
	a.reloads.WithLabelValues("ok").Inc()
	log.Info("SIGHUP: tokens file reloaded", "path", a.tokens.Path(), "clients", a.tokens.Current().Len())
}
