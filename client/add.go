package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"net/http"
	"strconv"
	"time"
)

// MaxNumber is the largest number the service adds (2^63-1).
const MaxNumber = math.MaxInt64

// Result is the outcome of an addition.
type Result struct {
	Total    *big.Int // the total right after this addition (exact; it may exceed 2^64)
	Replayed bool     // the key was already completed: this is the first answer, replayed
	Key      string   // the idempotency key sent ("" with WithoutKey)
	Attempts int      // attempts made (net/http may itself resend a keyed request once on a reused connection that died)
}

// AddOption configures one Add.
type AddOption func(*addConfig)

type addConfig struct {
	key     string
	keyless bool
	wait    time.Duration
}

// WithKey makes Add send key (1 to 255 visible ASCII characters) instead
// of a random one: to resume an addition whose outcome was unknown, or to
// tie it to an id of the caller's own.
func WithKey(key string) AddOption { return func(a *addConfig) { a.key, a.keyless = key, false } }

// WithoutKey makes Add send no key: each such call that reaches MySQL
// adds. It is retried only when nothing can have been added, and fails
// with ErrOutcomeUnknown otherwise.
func WithoutKey() AddOption { return func(a *addConfig) { a.key, a.keyless = "", true } }

// WithWait sends "Prefer: wait=S" (RFC 7240; S is d in whole seconds,
// rounded up): a duplicate of an addition in flight then waits up to S
// seconds on the server for the first one's answer instead of an
// immediate 409.
func WithWait(d time.Duration) AddOption { return func(a *addConfig) { a.wait = d } }

// Add adds n (1 to MaxNumber) exactly once and returns the total right
// after the addition. Unless WithKey or WithoutKey says otherwise it
// sends a random idempotency key, and retries it across the instances
// after a network error, a 409, a 503, a 408 or another 5xx, until an
// answer, ctx's end or WithMaxAttempts. The error is an *Error for
// 400, 413, 415 and 422 (never retried; errors.Is matches ErrInvalid,
// ErrTooLarge, ErrUnsupported, ErrKeyReused), and otherwise wraps the
// last failure and, when an attempt may have added, ErrOutcomeUnknown.
// Result.Key and Result.Attempts are set on error too.
func (c *Client) Add(ctx context.Context, n uint64, opts ...AddOption) (Result, error) {
	var cfg addConfig
	for _, o := range opts {
		o(&cfg)
	}
	if n == 0 || n > MaxNumber {
		return Result{Key: cfg.key}, &Error{Status: http.StatusBadRequest, Type: "urn:idemsum:problem:invalid-input",
			Title: "Bad Request", Detail: fmt.Sprintf("number %d is not in 1..%d (not sent)", n, uint64(MaxNumber))}
	}
	if cfg.key == "" && !cfg.keyless {
		cfg.key = newKey()
	}
	req := request{
		method: http.MethodPost, path: "/sum", key: cfg.key, keyless: cfg.keyless, wait: cfg.wait,
		body: []byte(`{"number":` + strconv.FormatUint(n, 10) + `}`),
	}
	res, err := c.call(ctx, req)
	res.Key = cfg.key
	return res, err
}

// Total returns the current total (GET /sum), retrying across the
// instances as Add does; a read is always safe to retry.
func (c *Client) Total(ctx context.Context) (*big.Int, error) {
	res, err := c.call(ctx, request{method: http.MethodGet, path: "/sum", safe: true})
	return res.Total, err
}

// newKey returns a random key of 128 bits.
func newKey() string {
	var b [16]byte
	rand.Read(b[:])
	return "c-" + hex.EncodeToString(b[:])
}
