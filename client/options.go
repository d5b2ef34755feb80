package client

import (
	"net/http"
	"time"
)

// Option configures a Client in New.
type Option func(*Client)

// WithHTTPClient makes the Client send through a copy of hc instead of a
// client of its own (which has no overall timeout: each attempt is
// bounded by WithAttemptTimeout and the whole call by its context). The
// copy never follows redirects whatever hc.CheckRedirect says; hc itself
// is not changed.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithBackoff sets the delay before the first retry (base) and the cap of
// the exponential backoff (max). Each delay is drawn at random between
// half and all of min(max, base·2^retry), and is never shorter than the
// Retry-After that applies (see the package doc).
func WithBackoff(base, max time.Duration) Option {
	return func(c *Client) { c.baseDelay, c.maxDelay = base, max }
}

// WithAttemptTimeout bounds each attempt (one HTTP exchange), so that a
// frozen instance costs at most d before the next is tried. With a
// Prefer wait (WithWait) the attempt may also take that wait.
func WithAttemptTimeout(d time.Duration) Option { return func(c *Client) { c.attemptTimeout = d } }

// WithMaxRetryAfter lowers the cap on a server's Retry-After from
// MaxRetryAfter to d (a d over MaxRetryAfter is MaxRetryAfter).
func WithMaxRetryAfter(d time.Duration) Option {
	return func(c *Client) { c.maxRetryAfter = min(max(d, 0), MaxRetryAfter) }
}

// WithToken sends token (from "sumd token NAME") as Authorization: Bearer
// with every request, for a service that runs with -auth-tokens. Keys are
// then the client's own: another client's same key is another addition.
// The token goes only to the base URLs: redirects are never followed.
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// WithMaxAttempts bounds the attempts of one call; 0 (the default) means
// as many as the call's context allows.
func WithMaxAttempts(n int) Option { return func(c *Client) { c.maxAttempts = n } }
