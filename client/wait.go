package client

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxRetryAfter is the longest a Client waits on a server's Retry-After
// (a longer one counts as MaxRetryAfter), with or without a deadline.
const MaxRetryAfter = 30 * time.Second

// errAttempts ends a call that used up WithMaxAttempts.
var errAttempts = errors.New("attempts used up")

// hold keeps instance i out of turn for d, its Retry-After.
func (c *Client) hold(i int, d time.Duration) {
	if d > 0 {
		c.notBefore[i].Store(int64(time.Since(c.epoch) + d))
	}
}

// pick returns the instance to try next, from from on in turn: the first
// not held, else the one whose hold ends first and how long it still is.
func (c *Client) pick(from int) (int, time.Duration) {
	now := time.Since(c.epoch)
	best, wait := from%len(c.urls), time.Duration(math.MaxInt64)
	for k := range len(c.urls) {
		i := (from + k) % len(c.urls)
		d := time.Duration(c.notBefore[i].Load()) - now
		if d <= 0 {
			return i, 0
		}
		if d < wait {
			best, wait = i, d
		}
	}
	return best, wait
}

// backoff returns the delay before retry number retry (0 for the first).
func (c *Client) backoff(retry int) time.Duration {
	d := c.maxDelay
	if retry < 30 && c.baseDelay<<retry < c.maxDelay {
		d = c.baseDelay << retry
	}
	if d > 0 {
		d = d/2 + rand.N(d/2+1)
	}
	return d
}

// pause waits d before the next attempt, or returns why not to make it:
// the attempts are used up, or ctx ends (or its deadline would pass)
// first.
func (c *Client) pause(ctx context.Context, d time.Duration, attempts int) error {
	if c.maxAttempts > 0 && attempts >= c.maxAttempts {
		return errAttempts
	}
	if err := ctx.Err(); err != nil || d <= 0 {
		return err
	}
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < d {
		return context.DeadlineExceeded
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// parseRetryAfter parses Retry-After, delay-seconds or an HTTP date, at
// most MaxRetryAfter; 0 when absent or malformed.
func parseRetryAfter(v string) time.Duration {
	if v != "" && strings.Trim(v, "0123456789") == "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n > uint64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(time.Until(t), 0), MaxRetryAfter)
	}
	return 0
}
