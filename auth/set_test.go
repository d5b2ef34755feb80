package auth_test

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/idemsum/idemsum/auth"
)

// tokenFile writes content to a new token file and returns its path.
func tokenFile(tb testing.TB, content string) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "tokens.txt")
	writeFile(tb, path, content)
	return path
}

// wantClient checks that toks gives token to client, or to none if
// client is empty.
func wantClient(tb testing.TB, toks *auth.Tokens, token, client string) {
	tb.Helper()
	if got, ok := toks.Lookup(token); got != client || ok != (client != "") {
		tb.Errorf("Lookup(%q) = %q, %v; want %q", token, got, ok, client)
	}
}

func TestOpen(t *testing.T) {
	t.Parallel()
	path := tokenFile(t, auth.Line("billing", "old")+"\n")
	s, err := auth.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if s.Path() != path {
		t.Errorf("Path() = %q, want %q", s.Path(), path)
	}
	wantClient(t, s.Current(), "old", "billing")

	bad := tokenFile(t, "# nobody\n")
	if s, err := auth.Open(bad); err == nil || !strings.HasPrefix(err.Error(), bad+": no clients") {
		t.Errorf("Open(bad) = %v, %v; want an error starting %s: no clients", s, err, bad)
	}
	if s, err := auth.Open(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Errorf("Open(missing) = %v, nil; want an error", s)
	}
}

// TestSetReload swaps the file's content: after Reload the new token
// works and the old does not; Tokens taken before still hold the old.
func TestSetReload(t *testing.T) {
	t.Parallel()
	path := tokenFile(t, auth.Line("billing", "old")+"\n")
	s, err := auth.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	before := s.Current()
	writeFile(t, path, auth.Line("billing", "new")+"\n"+auth.Line("ops", "ops-token")+"\n")
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	now := s.Current()
	wantClient(t, now, "new", "billing")
	wantClient(t, now, "ops-token", "ops")
	wantClient(t, now, "old", "")
	wantClient(t, before, "old", "billing")
	wantClient(t, before, "new", "")
}

// TestSetReloadKeepsPreviousOnBadFile: a bad or missing file on Reload
// leaves the Tokens as they were, and the error names file and line.
func TestSetReloadKeepsPreviousOnBadFile(t *testing.T) {
	t.Parallel()
	path := tokenFile(t, auth.Line("billing", "old")+"\n")
	s, err := auth.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	before := s.Current()
	tests := []struct {
		name, content, want string
	}{
		{"bad line", auth.Line("billing", "new") + "\n" + "ops not-a-hash\n", path + ":2: hash is not 64 hex digits"},
		{"empty", "", path + ": no clients"},
		{"half written", "bill", path + `:1: want "NAME SHA256-HEX", got 1 fields`},
	}
	for _, tt := range tests {
		writeFile(t, path, tt.content)
		if err := s.Reload(); err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%s: Reload() = %v, want an error starting %q", tt.name, err, tt.want)
		}
		if s.Current() != before {
			t.Errorf("%s: Reload replaced the Tokens", tt.name)
		}
		wantClient(t, s.Current(), "old", "billing")
	}
}

// TestSetConcurrentReload reads Current and looks tokens up while other
// goroutines reload a file that alternates between two clients (run it
// with -race). Every Tokens seen must be one file or the other, whole.
func TestSetConcurrentReload(t *testing.T) {
	t.Parallel()
	files := []string{auth.Line("a", "tok-a") + "\n", auth.Line("b", "tok-b") + "\n"}
	path := tokenFile(t, files[0])
	s, err := auth.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var readers, reloaders sync.WaitGroup
	for range 4 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				toks := s.Current()
				_, a := toks.Lookup("tok-a")
				_, b := toks.Lookup("tok-b")
				if a == b || toks.Len() != 1 {
					t.Errorf("Current() has tok-a %v, tok-b %v, %d clients; want exactly one of them", a, b, toks.Len())
					return
				}
			}
		})
	}
	for i := range 50 {
		writeFile(t, path, files[(i+1)%2]) // one writer: a reload never sees a half-written file
		for range 3 {
			reloaders.Go(func() {
				if err := s.Reload(); err != nil {
					t.Error(err)
				}
			})
		}
		reloaders.Wait()
	}
	close(stop)
	readers.Wait()
	wantClient(t, s.Current(), "tok-a", "a") // the 50th write, files[50%2], holds a
}
