package idempotencytest_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idemsum/idemsum/idempotency"
	"github.com/idemsum/idemsum/idempotency/idempotencytest"
)

// brokenEnv names the bug TestBrokenStore plants, in a child process.
const brokenEnv = "IDEMSUM_BROKEN_STORE"

// brokenStore is a MemStore with one bug, chosen by name.
type brokenStore struct {
	*idempotencytest.MemStore
	bug string

	mu     sync.Mutex
	tokens map[string]string // key → the token its Claim returned
	n      int
}

func (s *brokenStore) Get(ctx context.Context, key string) (idempotency.Record, error) {
	rec, err := s.MemStore.Get(ctx, key)
	if s.bug == "get drops fingerprint" {
		rec.Fingerprint = ""
	}
	return rec, err
}

func (s *brokenStore) Claim(ctx context.Context, key string, lease time.Duration) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bug == "claims never conflict" {
		s.n++
		key += strings.Repeat("'", s.n)
	}
	token, err := s.MemStore.Claim(ctx, key, lease)
	s.tokens[key] = token
	return token, err
}

func (s *brokenStore) Release(ctx context.Context, key, token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bug == "release ignores token" {
		token = s.tokens[key]
	}
	return s.MemStore.Release(ctx, key, token)
}

// TestBrokenStore runs the suite on a broken store when a parent
// TestSuiteCatches asks it to; otherwise it is skipped.
func TestBrokenStore(t *testing.T) {
	bug := os.Getenv(brokenEnv)
	if bug == "" {
		t.Skip("run by TestSuiteCatches")
	}
	idempotencytest.TestStore(t, idempotencytest.Harness{New: func(*testing.T) idempotency.Store {
		return &brokenStore{MemStore: idempotencytest.NewMemStore(nil), bug: bug, tokens: map[string]string{}}
	}})
}

// TestSuiteCatches checks that TestStore has teeth: each planted bug fails
// the subtest meant to find it.
func TestSuiteCatches(t *testing.T) {
	if os.Getenv(brokenEnv) != "" {
		t.Skip("in the child process")
	}
	tests := map[string]string{
		"get drops fingerprint": "PutGet",
		"claims never conflict": "ConcurrentClaim",
		"release ignores token": "ReleaseWrongToken",
	}
	for bug, subtest := range tests {
		t.Run(bug, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenStore$", "-test.v")
			cmd.Env = append(os.Environ(), brokenEnv+"="+bug)
			out, err := cmd.CombinedOutput()
			if want := "--- FAIL: TestBrokenStore/" + subtest; err == nil || !strings.Contains(string(out), want) {
				t.Fatalf("suite on a store whose %s: got error %v and no %q in output:\n%s", bug, err, want, out)
			}
		})
	}
}
