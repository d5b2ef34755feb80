// Package e2e holds the end-to-end tests of idemsum: each runs several
// copies of the real sumd binary against the real MySQL and Redis and
// drives them over HTTP while it injects faults. The harness they use,
// and an index of these files by area and fault, is package
// idemsum/e2e/harness.
//
// Run with:
//
//	go test -race -count=1 -v ./e2e/
//
// TestBurst sends 100,000 keys instead of 10,000 with IDEMSUM_BURST=1
// (and without -short). TestSoak runs only with IDEMSUM_SOAK set to a
// duration: scripts/soak.sh.
package e2e
