package client

import "time"

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
