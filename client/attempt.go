package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"sync/atomic"
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
	sent   bool // the request may have been written: it may have been acted on
	err    error
}

// attempt makes one HTTP exchange with the instance at base. An attempt
// cut by a timeout of its own (not by ctx) fails with an error that does
// not wrap context.DeadlineExceeded: that error is the call's deadline.
func (c *Client) attempt(ctx context.Context, base string, req request) reply {
	timeout := c.attemptTimeout + req.wait
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// Nothing was sent only if a connection was asked for and never got:
	// net/http's own transport reports both (in the calling goroutine,
	// before the request is handed to a connection); another may not.
	var asked, got atomic.Bool
	actx = httptrace.WithClientTrace(actx, &httptrace.ClientTrace{
		GetConn: func(string) { asked.Store(true) },
		GotConn: func(httptrace.GotConnInfo) { got.Store(true) },
	})
	rep := c.exchange(actx, base, req)
	rep.sent = !asked.Load() || got.Load()
	if rep.err != nil && ctx.Err() == nil && errors.Is(rep.err, context.DeadlineExceeded) {
		rep.err = fmt.Errorf("client: attempt timed out (WithAttemptTimeout %v, or the http.Client's Timeout): %v", timeout, rep.err)
	}
	return rep
}

// exchange sends req to base and reads the response.
func (c *Client) exchange(ctx context.Context, base string, req request) (rep reply) {
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
		return reply{err: err}
	}
	defer resp.Body.Close()
	rep.status, rep.header = resp.StatusCode, resp.Header
	rep.body, rep.err = io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return rep
}
