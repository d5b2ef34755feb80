// Package ledgercache keeps the records of an idemsum.Ledger's keys in a
// cache (Redis, through idempotency/redisstore), once per batch: before a
// batch's transaction its keys are looked up in one round trip, and those
// found are answered from their records without reaching MySQL; after it,
// the records of the batch are stored in one round trip. Per request that
// was two round trips (the Guard's look-up and Put) and two commands'
// worth of work in Redis and in sumd; per batch it is one GET and one SET
// per key in two pipelines.
//
// The cache is never trusted over MySQL, and never needed: a key missing
// from it (flushed, evicted, failed over, never stored) goes to the ledger,
// whose primary key answers it; a record that is corrupt, forged, copied
// from another key, from another deployment or past its deadline is
// thrown away by the store (redisstore checks its HMAC and deadline and
// compare-and-deletes it) and its key goes to the ledger too. A record
// whose number differs from the request's also goes to the ledger, which
// answers the mismatch with the number it holds. While the cache fails,
// Ledger bypasses it for Backoff, and every batch goes to the ledger.
//
// The records are the ones server.Service and the idempotency.Guard write
// and read (Record, Fingerprint), under the same names
// (idempotency.ScopedKey of client and key), so instances that cache per
// request and per batch can share one Redis during a rolling upgrade.
package ledgercache
