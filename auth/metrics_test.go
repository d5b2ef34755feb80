package auth_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/idemsum/idemsum/auth"
)

// TestFailedReloadIsVisible: a reload that reads a bad file keeps the
// previous tokens (a revoked token may still work) and says so where an
// operator looks: idemsum_auth_reload_ok drops to 0, the load time stays
// that of the tokens in use, and a later good file sets both right.
func TestFailedReloadIsVisible(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "tokens")
	writeFile(t, path, auth.Line("billing", "t1")+"\n"+auth.Line("revoked", "t2")+"\n")
	clock := time.Unix(1000, 0)
	s, err := auth.OpenWithClock(path, func() time.Time { return clock }) // the start, at the fake clock
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	s.Register(reg)
	gauge := func(name string) float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == name {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatalf("no metric %s", name)
		return 0
	}
	clock = time.Unix(2000, 0)
	writeFile(t, path, auth.Line("billing", "t1")+"\nrevoked-typo\n") // revoking, with a typo
	s.Reload()
	if _, ok := s.Current().Lookup("t2"); !ok {
		t.Errorf("after the bad file: the previous tokens must stay in use")
	}
	if got := gauge("idemsum_auth_reload_ok"); got != 0 {
		t.Errorf("after the bad file: idemsum_auth_reload_ok = %v, want 0", got)
	}
	if got := gauge("idemsum_auth_loaded_timestamp_seconds"); got != 1000 {
		t.Errorf("after the bad file: loaded at %v, want 1000 (the tokens in use)", got)
	}

	clock = time.Unix(3000, 0)
	writeFile(t, path, auth.Line("billing", "t1")+"\n")
	s.Reload()
	if _, ok := s.Current().Lookup("t2"); ok {
		t.Errorf("after the good file: the revoked token still works")
	}
	if got := gauge("idemsum_auth_reload_ok"); got != 1 {
		t.Errorf("after the good file: idemsum_auth_reload_ok = %v, want 1", got)
	}
	if got := gauge("idemsum_auth_loaded_timestamp_seconds"); got != 3000 {
		t.Errorf("after the good file: loaded at %v, want 3000", got)
	}
}
