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
	hc             *http.Client // never follows a redirect
	baseDelay      time.Duration
	maxDelay       time.Duration
	attemptTimeout time.Duration
	maxRetryAfter  time.Duration
	maxAttempts    int
	token          string        // the API token, sent as Authorization: Bearer
	next           atomic.Uint64 // the instance the next call starts at
	epoch          time.Time     // the origin of notBefore (a monotonic clock)
	notBefore      []atomic.Int64
	// notBefore[i]: the time since epoch before which instance i is not
	// asked again unless every instance is (its Retry-After).
}

// New returns a Client of the instances at baseURLs (such as
// "http://127.0.0.1:8080"; a path is kept as a prefix). It fails when
// baseURLs is empty or holds a URL that is not absolute http or https.
func New(baseURLs []string, opts ...Option) (*Client, error) {
	if len(baseURLs) == 0 {
		return nil, errors.New("client: no base URL")
	}
	c := &Client{
		baseDelay:      DefaultBaseDelay,
		maxDelay:       DefaultMaxDelay,
		attemptTimeout: DefaultAttemptTimeout,
		maxRetryAfter:  MaxRetryAfter,
		epoch:          time.Now(),
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
	c.maxDelay = max(c.maxDelay, c.baseDelay)
	c.hc = withoutRedirects(c.hc)
	c.notBefore = make([]atomic.Int64, len(c.urls))
	c.next.Store(rand.Uint64N(uint64(len(c.urls))))
	return c, nil
}

// withoutRedirects returns a copy of hc (a new http.Client when nil) that
// returns a redirect as the response instead of following it.
func withoutRedirects(hc *http.Client) *http.Client {
	cp := http.Client{}
	if hc != nil {
		cp = *hc
	}
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cp
}
