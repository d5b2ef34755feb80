package main

import (
	"context"
	"fmt"
	"io"
	"math/big"
	"os"
	"time"

	api "github.com/idemsum/idemsum/client"
)

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args[1:], stderr)
	if err != nil {
		return err
	}
	l := newLoader(cfg)
	before, err := l.total(ctx)
	if err != nil {
		return fmt.Errorf("read total before the run: %w", err)
	}
	stopProgress := l.progress(stderr)
	elapsed := l.load(ctx)
	stopProgress()
	rep := l.report(elapsed)
	rep.Resolved, err = l.resolve(context.WithoutCancel(ctx))
	if err != nil {
		return err
	}
	after, err := l.total(context.WithoutCancel(ctx))
	if err != nil {
		return fmt.Errorf("read total after the run: %w", err)
	}
	delta, accepted := new(big.Int).Sub(after, before), l.acceptedSum()
	rep.TotalDelta, rep.Accepted = delta.String(), accepted.String()
	switch {
	case l.lost > 0:
		rep.Check = fmt.Sprintf("unverifiable (%d keyless requests with unknown outcome)", l.lost)
	case delta.Cmp(accepted) == 0:
		rep.Check = "ok"
	default:
		rep.Check = "MISMATCH (another writer, or a lost or double addition)"
	}
	rep.print(stdout, cfg.JSON)
	if rep.Check[0] == 'M' {
		return fmt.Errorf("total check failed")
	}
	return nil
}

// api is the idemsum client for the work around the load — the totals
// and the resolution of unknown outcomes — which retries the same key
// across the instances (package client). The load itself goes through the
// lean connections, which cost far less CPU per request.
func (l *loader) api() (*api.Client, error) {
	return api.New(l.cfg.URLs, api.WithAttemptTimeout(l.cfg.Timeout), api.WithToken(l.cfg.Token))
}

// total reads the current total.
func (l *loader) total(ctx context.Context) (*big.Int, error) {
	c, err := l.api()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, l.cfg.Timeout)
	defer cancel()
	return c.Total(ctx)
}

// resolve re-sends each keyed request whose outcome is unknown, with its
// key, until it gets a 200 (a replay if it had been added), so the check
// can be exact; it gives up after a minute.
func (l *loader) resolve(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	c, err := l.api()
	if err != nil {
		return 0, err
	}
	n := 0
	for id, number := range l.unknown {
		if _, err := c.Add(ctx, number, api.WithKey(l.key(id))); err != nil {
			return n, fmt.Errorf("could not resolve key %s: %w", l.key(id), err)
		}
		l.added[id] = number
		n++
	}
	return n, nil
}

// progress prints a live line on stderr when it is a terminal.
func (l *loader) progress(stderr io.Writer) func() {
	f, ok := stderr.(*os.File)
	if !l.cfg.Progress || !ok {
		return func() {}
	}
	if st, err := f.Stat(); err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return func() {}
	}
	done := make(chan struct{})
	start := time.Now()
	go func() {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				fmt.Fprintln(f)
				return
			case <-t.C:
				n := l.done.Load()
				s := time.Since(start).Seconds()
				fmt.Fprintf(f, "\r%5.1fs  %9d requests  %8.0f req/s", s, n, float64(n)/s)
			}
		}
	}()
	return func() { close(done) }
}
