package idempotencytest

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/idemsum/idemsum/idempotency"
)

func wantErr(tb testing.TB, op string, got, want error) {
	tb.Helper()
	if !errors.Is(got, want) {
		tb.Fatalf("%s: got error %v, want %v", op, got, want)
	}
}

func mustClaim(tb testing.TB, s idempotency.Store, key string) string {
	tb.Helper()
	token, err := s.Claim(tb.Context(), key, testLease)
	wantErr(tb, fmt.Sprintf("Claim(%q)", key), err, nil)
	if token == "" {
		tb.Fatalf("Claim(%q): got empty token", key)
	}
	return token
}

func wantInFlight(tb testing.TB, s idempotency.Store, key string) {
	tb.Helper()
	_, err := s.Claim(tb.Context(), key, testLease)
	wantErr(tb, fmt.Sprintf("Claim(%q)", key), err, idempotency.ErrInFlight)
}

func mustRelease(tb testing.TB, s idempotency.Store, key, token string) {
	tb.Helper()
	err := s.Release(tb.Context(), key, token)
	wantErr(tb, fmt.Sprintf("Release(%q, %q)", key, token), err, nil)
}

func mustPut(tb testing.TB, s idempotency.Store, key string, rec idempotency.Record) {
	tb.Helper()
	err := s.Put(tb.Context(), key, rec, testTTL)
	wantErr(tb, fmt.Sprintf("Put(%q)", key), err, nil)
}

func wantRecord(tb testing.TB, s idempotency.Store, key string, want idempotency.Record) {
	tb.Helper()
	got, err := s.Get(tb.Context(), key)
	wantErr(tb, fmt.Sprintf("Get(%q)", key), err, nil)
	if !sameRecord(got, want) {
		tb.Fatalf("Get(%q) = %s, want %s", key, show(got), show(want))
	}
}

func wantNotFound(tb testing.TB, s idempotency.Store, key string) {
	tb.Helper()
	_, err := s.Get(tb.Context(), key)
	wantErr(tb, fmt.Sprintf("Get(%q)", key), err, idempotency.ErrNotFound)
}

func sameRecord(a, b idempotency.Record) bool {
	return a.Fingerprint == b.Fingerprint && a.Status == b.Status && a.ContentType == b.ContentType &&
		sameHeader(a.Header, b.Header) && bytes.Equal(a.Body, b.Body) && sameTime(a.Created, b.Created)
}

// sameTime reports whether a and b are the same to the millisecond (both
// zero, or neither).
func sameTime(a, b time.Time) bool {
	return a.IsZero() == b.IsZero() && a.UnixMilli() == b.UnixMilli()
}

// sameHeader reports whether a and b hold the same values (nil and empty
// are the same).
func sameHeader(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for name, vs := range a {
		if !slices.Equal(vs, b[name]) {
			return false
		}
	}
	return true
}

func show(r idempotency.Record) string {
	body := r.Body
	if len(body) > 64 {
		body = body[:64]
	}
	return fmt.Sprintf("{fp %q, status %d, type %q, header %v, created %v, %d-byte body %q}", r.Fingerprint, r.Status, r.ContentType, r.Header, r.Created, len(r.Body), body)
}
