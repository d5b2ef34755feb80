package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"time"
)

// request is one call, sent as often as the retry rules allow.
type request struct {
	method, path string
	body         []byte
	key          string        // Idempotency-Key; "" for none
	keyless      bool          // an addition without a key: retried only if nothing was added
	safe         bool          // a read: always safe to retry
	wait         time.Duration // Prefer: wait
}

// reply is the outcome of one attempt: a response read in full, or err.
type reply struct {
	status int
	header http.Header
	body   []byte
	sent   bool // the request's headers were written: it may have been acted on
	err    error
}

// call sends req until it gets an answer not to retry, starting at the
// next instance in turn and moving on to the following one after each
// failure.
func (c *Client) call(ctx context.Context, req request) (Result, error) {
	var res Result
	start := int(c.next.Add(1))
	uncertain := false
	var last error
	for retry := 0; ; retry++ {
		base := c.urls[(start+retry)%len(c.urls)]
		rep := c.attempt(ctx, base, req)
		res.Attempts++
		var retryAfter time.Duration
		if rep.err == nil && rep.status == http.StatusOK {
			total, err := parseTotal(rep.body)
			res.Total, res.Replayed = total, rep.header.Get("Idempotent-Replayed") == "true"
			return res, err
		}
		if rep.err != nil {
			last = rep.err
			uncertain = uncertain || (rep.sent && !req.safe)
		} else {
			e := problemOf(rep)
			if final(e.Status) {
				return res, e
			}
			last, retryAfter = e, e.RetryAfter
			uncertain = uncertain || (!e.nothingAdded() && !req.safe)
		}
		if req.keyless && uncertain {
			return res, &unknown{fmt.Errorf("not retried without a key: %w", last)}
		}
		if err := c.pause(ctx, retry, retryAfter, res.Attempts); err != nil {
			err = fmt.Errorf("client: gave up after %d attempts: %w (last: %w)", res.Attempts, err, last)
			if uncertain {
				return res, &unknown{err}
			}
			return res, err
		}
	}
}

// errAttempts ends a call that used up WithMaxAttempts.
var errAttempts = errors.New("attempts used up")

// pause waits before retry number retry, or returns why not to retry: the
// attempts are used up, or ctx ends (or would end) first.
func (c *Client) pause(ctx context.Context, retry int, retryAfter time.Duration, attempts int) error {
	if c.maxAttempts > 0 && attempts >= c.maxAttempts {
		return errAttempts
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	d := c.backoff(retry, retryAfter)
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

// attempt makes one HTTP exchange with the instance at base.
func (c *Client) attempt(ctx context.Context, base string, req request) (rep reply) {
	ctx, cancel := context.WithTimeout(ctx, c.attemptTimeout+req.wait)
	defer cancel()
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteHeaders: func() { rep.sent = true }})
	var body io.Reader
	if req.body != nil {
		body = bytes.NewReader(req.body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, base+req.path, body)
	if err != nil {
		return reply{err: err}
	}
	hr.Header.Set("Accept", "application/json")
	if c.token != "" {
		hr.Header.Set("Authorization", "Bearer "+c.token)
	}
	if req.body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if req.key != "" {
		hr.Header.Set("Idempotency-Key", req.key)
	}
	if req.wait > 0 {
		hr.Header.Set("Prefer", "wait="+strconv.FormatInt(int64((req.wait+time.Second-1)/time.Second), 10))
	}
	resp, err := c.hc.Do(hr)
	if err != nil {
		rep.err = err
		return rep
	}
	defer resp.Body.Close()
	rep.status, rep.header = resp.StatusCode, resp.Header
	rep.body, rep.err = io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return rep
}

// problemOf returns the *Error of a response other than 200.
func problemOf(rep reply) *Error {
	e := &Error{Status: rep.status, Title: http.StatusText(rep.status), RetryAfter: parseRetryAfter(rep.header.Get("Retry-After"))}
	var p struct{ Type, Title, Detail string }
	if json.Unmarshal(rep.body, &p) == nil && p.Type != "" {
		e.Type, e.Title, e.Detail = p.Type, p.Title, p.Detail
	} else {
		e.Detail = strings.TrimSpace(string(rep.body))
	}
	return e
}

// parseRetryAfter parses Retry-After: delay-seconds or an HTTP date; 0
// when absent or malformed.
func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseUint(v, 10, 31); err == nil {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}
