// Package idempotency is a from-scratch toolkit for idempotency keys in Go
// net/http services: key parsing, request fingerprints, the claim/replay
// logic (Guard), a Store interface for in-flight claims and completed
// responses, and a net/http middleware.
//
// It imports no database driver and nothing from any domain. A Store is an
// accelerator and a coordinator for concurrent duplicates; exactly-once
// effects additionally need a durable fence, which the protected function
// provides (see Func). A Func whose fence also answers a duplicate in
// flight (a unique key in a database does) lets the Guard skip claims
// altogether (Guard.Fenced): a fresh key then costs one Store lookup and
// one Put. Keys can be scoped per caller (Guard.Scope, ScopedKey).
package idempotency
