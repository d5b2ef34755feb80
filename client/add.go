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

// Add adds n (1 to MaxNumber) exactly once and returns the total right
// after the addition. Unless WithKey or WithoutKey says otherwise it
// sends a random idempotency key, and retries it across the instances
// after a network error, a 408, 409, 429, a 5xx, or a 2xx that is not a
// total, until an answer, ctx's end or WithMaxAttempts (the package doc
// says when it waits, and what it retries without a key).
//
// The error is an *Error for the final answers, never retried: 400, 401,
// 403, 413, 415, 422 and the other 4xx but 408, 409 and 429 (errors.Is
// matches ErrInvalid, ErrUnauthorized, ErrForbidden, ErrTooLarge,
// ErrUnsupported, ErrKeyReused), and a 3xx, which is not followed
// (ErrRedirected; Error.Location says where to). Otherwise the call gave
// up: its error wraps why (ctx's error, context.DeadlineExceeded when the
// deadline would pass before the next attempt, or the attempts used up),
// the last attempt's failure, and the last answered failure (such as
// ErrInFlight or ErrUnavailable). Any of these errors also wraps
// ErrOutcomeUnknown when an attempt may have added: its request was sent
// and no answer came (a deadline that cuts an attempt in flight is such a
// case), or the answer does not say nothing was added. Result.Key and
// Result.Attempts are set on error too.
func (c *Client) Add(ctx context.Context, n uint64, opts ...AddOption) (Result, error) {
	var cfg addConfig
	for _, o := range opts {
		o(&cfg)
	}
	if n == 0 || n > MaxNumber {
		return Result{Key: cfg.key}, &Error{Status: http.StatusBadRequest, Type: problemPrefix + "invalid-input", Title: "Bad Request",
			Detail: fmt.Sprintf("number %d is not in 1..%d (not sent)", n, uint64(MaxNumber)), Outcome: OutcomeNotAdded}
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
// instances as Add does, whatever the failure (a read adds nothing). A
// 3xx and a 4xx other than 408, 409 and 429 are final *Errors.
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
