package idempotencytest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/idemsum/idemsum/idempotency"
)

func claimTests() []storeTest {
	return []storeTest{
		{name: "ConcurrentClaim", run: testConcurrentClaim},
		{name: "ConcurrentTakeOver", advance: true, run: testConcurrentTakeOver},
		{name: "ClaimCompleted", run: testClaimCompleted},
		{name: "ReleaseWrongToken", run: testReleaseWrongToken},
		{name: "ReleaseThenClaim", run: testReleaseThenClaim},
		{name: "ClaimExpires", advance: true, run: testClaimExpires},
		{name: "RandomTokens", run: testRandomTokens},
		{name: "NonPositiveDurations", run: testNonPositiveDurations},
	}
}

func testConcurrentClaim(t *testing.T, h Harness) {
	s := h.New(t)
	wantOneWinner(t, s, "k")
}

// testConcurrentTakeOver races claims for a key whose claim, and for one
// whose record, has expired.
func testConcurrentTakeOver(t *testing.T, h Harness) {
	s := h.New(t)
	mustClaim(t, s, "claimed")
	mustPut(t, s, "done", idempotency.Record{Status: 200})
	h.Advance(t, s, testTTL)
	wantOneWinner(t, s, "claimed")
	wantOneWinner(t, s, "done")
}

// wantOneWinner claims key from 32 goroutines at once and fails tb unless
// exactly one wins and the others get ErrInFlight.
func wantOneWinner(tb testing.TB, s idempotency.Store, key string) {
	tb.Helper()
	const n = 32
	start := make(chan struct{})
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			<-start
			_, err := s.Claim(tb.Context(), key, testLease)
			errs <- err
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	won := 0
	for err := range errs {
		if err == nil {
			won++
			continue
		}
		wantErr(tb, "concurrent Claim", err, idempotency.ErrInFlight)
	}
	if won != 1 {
		tb.Fatalf("%d concurrent Claims of %q: got %d winners, want 1", n, key, won)
	}
}

func testClaimCompleted(t *testing.T, h Harness) {
	s := h.New(t)
	rec := idempotency.Record{Fingerprint: "fp", Status: 200, Body: []byte("done")}
	mustPut(t, s, "done", rec)
	wantInFlight(t, s, "done")

	token := mustClaim(t, s, "k")
	mustPut(t, s, "k", rec)
	mustRelease(t, s, "k", token)
	wantInFlight(t, s, "k")
	wantRecord(t, s, "k", rec)
}

func testReleaseWrongToken(t *testing.T, h Harness) {
	s := h.New(t)
	mustRelease(t, s, "unknown", "token")
	token := mustClaim(t, s, "k")
	other := mustClaim(t, s, "other")
	for _, wrong := range []string{"", "wrong", other, token + "x", token[:len(token)-1]} {
		mustRelease(t, s, "k", wrong)
		wantInFlight(t, s, "k")
	}
	mustRelease(t, s, "k", token)
	mustClaim(t, s, "k")
}

func testReleaseThenClaim(t *testing.T, h Harness) {
	s := h.New(t)
	first := mustClaim(t, s, "k")
	wantInFlight(t, s, "k")
	mustRelease(t, s, "k", first)
	second := mustClaim(t, s, "k")
	if second == first {
		t.Fatalf("Claim after Release: got the released token %q again", first)
	}
	wantNotFound(t, s, "k")
}

func testClaimExpires(t *testing.T, h Harness) {
	s := h.New(t)
	old := mustClaim(t, s, "k")
	h.Advance(t, s, testLease/2)
	wantInFlight(t, s, "k")
	h.Advance(t, s, testLease/2)
	holder := mustClaim(t, s, "k")
	if holder == old {
		t.Fatalf("Claim after expiry: got the expired token %q again", old)
	}
	mustRelease(t, s, "k", old)
	wantInFlight(t, s, "k")
	mustRelease(t, s, "k", holder)
	mustClaim(t, s, "k")
}

func testRandomTokens(t *testing.T, h Harness) {
	s := h.New(t)
	seen := map[string]bool{}
	for i := range 16 {
		key := fmt.Sprint("k", i%2)
		token := mustClaim(t, s, key)
		if seen[token] {
			t.Fatalf("Claim #%d: got token %q twice", i, token)
		}
		seen[token] = true
		mustRelease(t, s, key, token)
	}
}

// testNonPositiveDurations checks that nothing is stored without an expiry.
func testNonPositiveDurations(t *testing.T, h Harness) {
	s := h.New(t)
	for _, d := range []time.Duration{0, -time.Second} {
		_, err := s.Claim(t.Context(), "k", d)
		if err == nil || errors.Is(err, idempotency.ErrInFlight) {
			t.Fatalf("Claim with lease %v: got error %v, want a non-sentinel error", d, err)
		}
		if err := s.Put(t.Context(), "k", idempotency.Record{Status: 200}, d); err == nil {
			t.Fatalf("Put with ttl %v: got error nil, want an error", d)
		}
	}
	wantNotFound(t, s, "k")
	mustClaim(t, s, "k")
}
