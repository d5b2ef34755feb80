// Package e2e holds the end-to-end tests of idemsum: they build cmd/sumd
// once, run several copies of the real binary as separate processes
// against the real MySQL and Redis (each test with its own database and
// Redis key prefix, see internal/testenv), drive them over HTTP with
// concurrent duplicate requests, and kill (SIGKILL), freeze (SIGSTOP) and
// restart them, flush or remove Redis, and send hostile input. After each
// run one assertion helper checks the invariants of DESIGN.md §4: exactly
// once, byte-identical replays, linearizable totals, the MySQL ledger, no
// stored routines, and an expiry on every Redis key.
//
// Run with:
//
//	go test -race -count=1 -v ./e2e/
package e2e
