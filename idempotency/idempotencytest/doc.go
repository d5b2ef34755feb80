// Package idempotencytest helps test code built on package idempotency:
// MemStore is an in-memory Store with an injected clock, Clock is a manual
// clock to inject, and TestStore is a conformance suite that every Store
// implementation should pass, in the way testing/fstest.TestFS checks any
// fs.FS.
package idempotencytest
