// Package client is a Go client of the idemsum HTTP API (DESIGN.md §2)
// that does the client's half of exactly-once: it generates an
// idempotency key once per addition, sends it with every attempt, and
// retries that same key, across the instances it was given, after a
// network error, a 409 (the key is in flight elsewhere), a 503 or a 408,
// with capped exponential backoff, jitter and the server's Retry-After.
//
// A keyed addition retried this way is added exactly once whatever the
// failures in between: the server replays the first outcome to every
// later attempt. An addition without a key (WithoutKey) is retried only
// when nothing can have been added; when its outcome is unknown Add
// returns an error matching ErrOutcomeUnknown and does not retry.
//
// It uses the standard library only.
package client

import (
	"errors"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// Defaults of the Options.
const (
	DefaultBaseDelay      = 50 * time.Millisecond
	DefaultMaxDelay       = 2 * time.Second
	DefaultAttemptTimeout = 10 * time.Second
)

// Client sends requests to one idemsum deployment through any of its
// instances. It is safe for concurrent use by multiple goroutines.
type Client struct {
	urls           []string
	hc             *http.Client
	baseDelay      time.Duration
	maxDelay       time.Duration
	attemptTimeout time.Duration
	maxAttempts    int
	token          string        // the API token, sent as Authorization: Bearer
	next           atomic.Uint64 // the instance the next request starts at
}

// Option configures a Client in New.
type Option func(*Client)

// WithHTTPClient makes the Client send through hc instead of a client of
// its own (which has no overall timeout: each attempt is bounded by
// WithAttemptTimeout and the whole call by its context).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithBackoff sets the delay before the first retry (base) and the cap of
// the exponential backoff (max). Each delay is drawn at random between
// half and all of min(max, base·2^retry), and is never shorter than the
// server's Retry-After.
func WithBackoff(base, max time.Duration) Option {
	return func(c *Client) { c.baseDelay, c.maxDelay = base, max }
}

// WithAttemptTimeout bounds each attempt (one HTTP exchange), so that a
// frozen instance costs at most d before the next is tried. With a
// Prefer wait (WithWait) the attempt may also take that wait.
func WithAttemptTimeout(d time.Duration) Option { return func(c *Client) { c.attemptTimeout = d } }

// WithToken sends token (from "sumd token NAME") as Authorization: Bearer
// with every request, for a service that runs with -auth-tokens. Keys are
// then the client's own: another client's same key is another addition.
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

func WithMaxRetryAfter(d time.Duration) Option { return func(c *Client) {} }

// WithMaxAttempts bounds the attempts of one call; 0 (the default) means
// as many as the call's context allows.
func WithMaxAttempts(n int) Option { return func(c *Client) { c.maxAttempts = n } }

// New returns a Client of the instances at baseURLs (such as
// "http://127.0.0.1:8080"; a path is kept as a prefix). It fails when
// baseURLs is empty or holds a URL that is not absolute http or https.
func New(baseURLs []string, opts ...Option) (*Client, error) {
	if len(baseURLs) == 0 {
		return nil, errors.New("client: no base URL")
	}
	c := &Client{
		hc:             &http.Client{},
		baseDelay:      DefaultBaseDelay,
		maxDelay:       DefaultMaxDelay,
		attemptTimeout: DefaultAttemptTimeout,
	}
	for _, raw := range baseURLs {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, errors.New("client: base URL " + raw + " is not an absolute http or https URL")
		}
		c.urls = append(c.urls, strings.TrimSuffix(u.String(), "/"))
	}
	for _, o := range opts {
		o(c)
	}
	if c.maxDelay < c.baseDelay {
		c.maxDelay = c.baseDelay
	}
	c.next.Store(rand.Uint64N(uint64(len(c.urls))))
	return c, nil
}

// backoff returns the delay before retry number retry (0 for the first),
// at least retryAfter.
func (c *Client) backoff(retry int, retryAfter time.Duration) time.Duration {
	d := c.maxDelay
	if retry < 30 && c.baseDelay<<retry < c.maxDelay {
		d = c.baseDelay << retry
	}
	if d > 0 {
		d = d/2 + rand.N(d/2+1)
	}
	return max(d, retryAfter)
}
