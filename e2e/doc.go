// Package e2e holds the end-to-end tests of idemsum. TestMain builds
// cmd/sumd once; each test runs several copies of the real binary as
// separate processes (harness_test.go) against the real MySQL and Redis,
// with a MySQL database and a Redis key prefix of its own (see
// internal/testenv), and drives them over HTTP with concurrent duplicates
// of every key, each copy to a different instance (driver_test.go).
//
// The tests kill instances (SIGKILL), freeze them (SIGSTOP) past the
// lease, stop them (SIGTERM) and restart them; flush Redis, take it away,
// restart it empty or stall it; take MySQL away, cut its connections
// (also in the middle of a COMMIT, whose outcome sumd then cannot know),
// slow it down past the lease or stall it (through the TCP fault proxy of
// internal/faultproxy); send hostile input and hostile connections
// (oversized headers, slow clients, clients that never read); and send a
// burst of distinct keys while sampling the processes' memory. After each
// fault a fresh round of keys must get no 5xx (checkHealed), and one
// assertion helper, checkAll (check_test.go), checks the invariants of
// DESIGN.md §4: every key added exactly once, byte-identical replays,
// linearizable totals, the MySQL ledger and total, no stored routines,
// triggers or events, an expiry on every Redis key, and no 503 while
// MySQL is up. After all tests TestMain checks that no Redis key the
// tests' prefixes hold lacks an expiry.
//
// Run with:
//
//	go test -race -count=1 -v ./e2e/
//
// TestBurst sends 100,000 keys instead of 10,000 with IDEMSUM_BURST=1
// (and without -short). TestSoak runs only with IDEMSUM_SOAK set to a
// duration: scripts/soak.sh.
package e2e
