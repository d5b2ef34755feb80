package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"time"
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

// total reads GET /sum from the first instance.
func (l *loader) total(ctx context.Context) (*big.Int, error) {
	c := newConn(ctx, l.targets[0])
	defer c.close()
	r, err := c.do([]byte(l.targets[0].get), time.Now().Add(l.cfg.Timeout))
	if err != nil {
		return nil, err
	}
	var body struct {
		Total json.Number `json:"total"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || r.status != http.StatusOK {
		return nil, fmt.Errorf("GET /sum: status %d, %v", r.status, err)
	}
	t, ok := new(big.Int).SetString(body.Total.String(), 10)
	if !ok {
		return nil, fmt.Errorf("GET /sum: total %q is not an integer", body.Total)
	}
	return t, nil
}

// resolve re-sends each keyed request whose outcome is unknown until it
// gets a 200 (a replay if it had been added), so the check can be exact.
func (l *loader) resolve(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	c := l.newClient(ctx)
	defer c.close()
	n := 0
	for id, number := range l.unknown {
		for i := 0; ; i++ {
			o, _ := c.add(i, keyed{id: id, number: number})
			if o.status == http.StatusOK {
				l.added[id] = number
				n++
				break
			}
			if ctx.Err() != nil {
				return n, fmt.Errorf("could not resolve key %s: %w", l.key(id), ctx.Err())
			}
			select { // retry backoff, not synchronisation
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
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
