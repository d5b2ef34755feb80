// Package idempotency is a from-scratch toolkit for idempotency keys
// (the IETF Idempotency-Key draft) in Go net/http services: key parsing,
// request fingerprints, the claim/replay logic (Guard), a Store interface
// for in-flight claims and completed responses (redisstore, mysqlstore,
// and idempotencytest's MemStore and conformance suite), and a net/http
// middleware. It imports no database driver and nothing from any domain.
//
// A service wraps its unsafe routes with Middleware over a Guard with a
// Store. Its defaults are safe for a handler that has no fence of its own:
//
//   - the Store cannot be reached: 503 with Retry-After, the handler does
//     not run (Guard.StoreDown, FailClosed; RunUnguarded is the opt-in for
//     a Func with a durable fence);
//   - what is replayed: 2xx, 3xx and the 4xx that follow from the request
//     itself; never 401, 403, 408, 409, 425, 429 or 5xx, whose retry runs
//     the handler again (Guard.RecordStatus, DefaultRecordStatus);
//   - a request without a key passes through unless RequireKey is given;
//   - the fingerprint is method, path, query and raw body unless
//     FingerprintWith chooses another (JSONFingerprint);
//   - every recorded and replayed answer says until when its key is
//     remembered (HeaderExpires).
//
// A Store coordinates concurrent duplicates and remembers answers; it is
// not a durable record of the effect. Exactly-once effects need a durable
// fence inside the protected function (see Func): the effect and the key
// recorded in one transaction, under a unique key. A Func whose fence also
// answers a duplicate in flight (a unique key in a database does) lets the
// Guard skip claims altogether (Guard.Fenced). Keys can be scoped per
// caller (Guard.Scope, ScopedKey). docs/toolkit.md in the repository is
// the tutorial, with an example service (examples/orders).
package idempotency
