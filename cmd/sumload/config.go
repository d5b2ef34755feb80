package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/idemsum/idemsum"
	"github.com/idemsum/idemsum/idempotency"
)

type config struct {
	URLs        []string
	Concurrency int
	Duration    time.Duration
	Requests    int
	Keys        string  // unique, none, or dup
	DupShare    float64 // with Keys == dup: share of requests that repeat an earlier key
	Min, Max    uint64
	Timeout     time.Duration
	JSON        bool
	Progress    bool
	Prefix      string
	Token       string  // API token, sent as Authorization: Bearer
	Rate        float64 // requests per second across all clients; 0 = as fast as they answer
}

func parseConfig(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("sumload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	urls := fs.String("urls", "http://127.0.0.1:8080", "comma-separated base URLs of the instances; requests go round robin")
	fs.IntVar(&c.Concurrency, "c", 64, "concurrent clients")
	fs.DurationVar(&c.Duration, "d", 10*time.Second, "how long to run (ignored with -n)")
	fs.IntVar(&c.Requests, "n", 0, "number of requests to send instead of a duration")
	keys := fs.String("keys", "unique", "key mode: unique, none, or dup:SHARE (e.g. dup:0.2 repeats an earlier key in 20% of requests)")
	fs.Uint64Var(&c.Min, "min", 1, "smallest number to add")
	fs.Uint64Var(&c.Max, "max", 1000, "largest number to add")
	fs.DurationVar(&c.Timeout, "timeout", 5*time.Second, "timeout of one request")
	fs.BoolVar(&c.JSON, "json", false, "print the report as JSON")
	fs.BoolVar(&c.Progress, "progress", true, "show live progress on stderr when it is a terminal")
	fs.StringVar(&c.Prefix, "key-prefix", "", "prefix of generated keys (default: random per run)")
	fs.Float64Var(&c.Rate, "rate", 0, "requests per second in all, spread evenly over time (an open load for latency at low rates); 0 = each client sends as soon as its last answer came")
	fs.StringVar(&c.Token, "token", "", "API token for a service with -auth-tokens (sent as Authorization: Bearer)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q (flags only)", fs.Arg(0))
	}
	c.URLs = strings.Split(*urls, ",")
	for _, u := range c.URLs {
		if _, err := parseTarget(u, ""); err != nil {
			return c, fmt.Errorf("-urls: %w", err)
		}
	}
	if err := c.parseKeys(*keys); err != nil {
		return c, err
	}
	switch {
	case c.Concurrency < 1:
		return c, errors.New("-c must be at least 1")
	case idemsum.CheckNumber(c.Min) != nil || idemsum.CheckNumber(c.Max) != nil || c.Max < c.Min:
		return c, fmt.Errorf("want 1 <= -min <= -max <= %d", uint64(idemsum.MaxNumber))
	case !(c.Rate >= 0) || math.IsInf(c.Rate, 0):
		return c, errors.New("-rate must be a finite number >= 0")
	case c.Requests < 0 || (c.Requests == 0 && c.Duration <= 0):
		return c, errors.New("give a positive -d or -n")
	case strings.ContainsFunc(c.Token, func(r rune) bool { return r <= ' ' || r > '~' }):
		// the token goes into the request bytes as it is
		return c, errors.New("-token: want visible ASCII only")
	case c.Prefix != "" && idempotency.ValidKey(c.Prefix+strconv.Itoa(math.MaxInt64)) != nil:
		// the prefix goes into the request bytes as it is
		return c, fmt.Errorf("-key-prefix: want visible ASCII, at most %d bytes", idempotency.MaxKeyLen-19)
	}
	return c, nil
}

func (c *config) parseKeys(mode string) error {
	name, share, hasShare := strings.Cut(mode, ":")
	c.Keys = name
	switch {
	case (name == "unique" || name == "none") && !hasShare:
		return nil
	case name == "dup":
		f, err := strconv.ParseFloat(share, 64)
		if err != nil || !(f >= 0 && f < 1) { // NaN fails both
			return fmt.Errorf("-keys dup:SHARE needs 0 <= SHARE < 1, got %q", share)
		}
		c.DupShare = f
		return nil
	}
	return fmt.Errorf("-keys %q: want unique, none or dup:SHARE", mode)
}
