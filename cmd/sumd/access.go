package main

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"

	"idemsum/auth"
	"idemsum/server"
)

// access is who may add and read: the -auth-tokens file (nil when unset:
// everyone is the anonymous client) and -allowed-origins.
type access struct {
	tokens  *auth.Set
	origins []string
	reloads *prometheus.CounterVec
}

// openAccess loads the tokens file, if any; a bad file stops sumd with the
// file and line at fault.
func openAccess(cfg config) (*access, error) {
	a := &access{origins: cfg.origins(), reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "idemsum_auth_reloads_total",
		Help: "Reloads of the -auth-tokens file on SIGHUP by result (ok, error).",
	}, []string{"result"})}
	if cfg.AuthTokens == "" {
		return a, nil
	}
	set, err := auth.Open(cfg.AuthTokens)
	if err != nil {
		return nil, err
	}
	a.tokens = set
	return a, nil
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

// authenticate names the client of a request by its bearer token.
func (a *access) authenticate(h http.Header) (string, error) {
	token, ok := auth.BearerToken(h)
	switch {
	case !ok && len(h.Values("Authorization")) == 0:
		return "", server.ErrNoToken
	case !ok:
		return "", server.ErrBadToken
	}
	client, ok := a.tokens.Current().Lookup(token)
	if !ok {
		return "", server.ErrBadToken
	}
	return client, nil
}

// server returns the server's Access, with its metrics on reg:
// idemsum_auth_denied_total{reason}, idemsum_auth_clients and
// idemsum_auth_reloads_total{result}.
func (a *access) server(reg prometheus.Registerer) server.Access {
	reg.MustRegister(a.reloads)
	denied := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "idemsum_auth_denied_total",
		Help: "Requests refused before anything was looked up: missing_token, bad_token (401) or cross_origin (403).",
	}, []string{"reason"})
	reg.MustRegister(denied)
	for _, r := range []string{"missing_token", "bad_token", "cross_origin"} {
		denied.WithLabelValues(r)
	}
	sa := server.Access{AllowedOrigins: a.origins, OnDenied: func(r string) { denied.WithLabelValues(r).Inc() }}
	if a.tokens != nil {
		sa.Authenticate = a.authenticate
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "idemsum_auth_clients",
			Help: "Clients in the -auth-tokens file as last loaded.",
		}, func() float64 { return float64(a.tokens.Current().Len()) }))
	}
	return sa
}

// reloadOnHangup takes SIGHUP from now on and, in a goroutine until ctx is
// done, re-reads the tokens file on each one without stopping any request:
// a bad file is logged and the previous tokens stay. Without a tokens file
// SIGHUP is logged and ignored (its default would end the process).
func (a *access) reloadOnHangup(ctx context.Context, log *slog.Logger) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	go a.reload(ctx, ch, log)
}

func (a *access) reload(ctx context.Context, ch chan os.Signal, log *slog.Logger) {
	defer signal.Stop(ch)
	for {
		select {
		case <-ctx.Done():
			return
		case <-ch:
		}
		if a.tokens == nil {
			log.Info("SIGHUP: no -auth-tokens file to reload")
			continue
		}
		if err := a.tokens.Reload(); err != nil {
			a.reloads.WithLabelValues("error").Inc()
			log.Error("SIGHUP: tokens file not reloaded; the previous tokens stay", "err", err)
			continue
		}
		a.reloads.WithLabelValues("ok").Inc()
		log.Info("SIGHUP: tokens file reloaded", "path", a.tokens.Path(), "clients", a.tokens.Current().Len())
	}
}
