// Package idempotency is a from-scratch toolkit for idempotency keys in Go
// net/http services: key parsing, request fingerprints, the claim/replay
// logic (Guard), a Store interface for in-flight claims and completed
// responses, and a net/http middleware.
//
// It imports no database driver and nothing from any domain. A Store is an
// accelerator and a coordinator for concurrent duplicates; exactly-once
// effects additionally need a durable fence, which the protected function
// provides (see Func).
package idempotency
