// Package idemsumtest helps test code built on package idemsum: Ledger is
// an in-memory idemsum.Ledger with the MySQL Ledger's semantics and the
// switches a test needs (fail, hold batches back, see what was asked), and
// TestLedger and TestAdder are conformance suites that every Ledger, and
// every Adder over a Ledger, should pass, in the way testing/fstest.TestFS
// checks any fs.FS.
//
// It imports nothing of the module but the root package.
package idemsumtest
