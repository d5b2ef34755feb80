package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idemsum/idemsum/auth"
)

// TestRunToken runs "sumd token billing" and feeds its second line to
// auth.Parse: the client's token, printed on the first line, must be the
// one that line accepts.
func TestRunToken(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	if err := runToken([]string{"billing"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "isk_") {
		t.Fatalf("stdout = %q, want a token (isk_...) and a line", stdout.String())
	}
	token, line := lines[0], lines[1]
	if want := auth.Line("billing", token); line != want {
		t.Errorf("second line = %q, want %q", line, want)
	}
	toks, err := auth.Parse(strings.NewReader(line+"\n"), "stdout")
	if err != nil {
		t.Fatalf("the second line does not parse: %v", err)
	}
	if client, ok := toks.Lookup(token); !ok || client != "billing" {
		t.Errorf("Lookup(first line) = %q, %v; want billing", client, ok)
	}
	for _, want := range []string{"second line to the -auth-tokens file", "SIGHUP", "Authorization: Bearer", "shown only once"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr = %q, want it to contain %q", stderr.String(), want)
		}
	}
	if strings.Contains(stderr.String(), token) {
		t.Errorf("stderr holds the token; want it on stdout only")
	}
}

// TestRunTokenNewEachTime: two runs for one name give two tokens.
func TestRunTokenNewEachTime(t *testing.T) {
	t.Parallel()
	var a, b bytes.Buffer
	for _, out := range []*bytes.Buffer{&a, &b} {
		if err := runToken([]string{"ops"}, out, &bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
	}
	if a.String() == b.String() {
		t.Errorf("two runs printed the same %q", a.String())
	}
}

func TestRunTokenRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no name", nil, "want one client NAME, got 0 arguments"},
		{"two names", []string{"a", "b"}, "want one client NAME, got 2 arguments"},
		{"bad name", []string{"a b"}, `client name "a b"`},
		{"name starting with a dot", []string{".a"}, `client name ".a"`},
		{"empty name", []string{""}, `client name ""`},
		{"long name", []string{strings.Repeat("n", 65)}, "client name"},
		{"unknown flag", []string{"-x", "a"}, "flag provided but not defined: -x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			err := runToken(tt.args, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "usage: sumd token NAME") {
				t.Fatalf("runToken(%q) = %v, want an error with %q and the usage", tt.args, err, tt.want)
			}
			if stdout.Len() != 0 || stderr.Len() != 0 {
				t.Errorf("runToken(%q) printed %q and %q, want nothing", tt.args, stdout.String(), stderr.String())
			}
		})
	}
}

func TestRunTokenHelp(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"-h", "-help", "--help"} {
		var stdout, stderr bytes.Buffer
		if err := runToken([]string{arg}, &stdout, &stderr); err != nil {
			t.Errorf("runToken(%s) = %v, want nil", arg, err)
		}
		if !strings.HasPrefix(stdout.String(), "usage: sumd token NAME\n") || strings.Contains(stdout.String(), "isk_") {
			t.Errorf("runToken(%s) printed %q, want the usage and no token", arg, stdout.String())
		}
	}
}

// TestRunTokenCheck: "sumd token check FILE" accepts the file sumd would
// load, listing its clients, and refuses a bad one with the file and line
// at fault, as sumd's start and SIGHUP would.
func TestRunTokenCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	bad := filepath.Join(dir, "bad")
	writeFile(t, good, auth.Line("billing", "t1")+"\n# a comment\n"+auth.Line("reports", "t2")+"\n")
	writeFile(t, bad, auth.Line("billing", "t1")+"\nreports not-a-hash\n")
	var stdout bytes.Buffer
	if err := runToken([]string{"check", good}, &stdout, io.Discard); err != nil {
		t.Fatalf("check of a good file: %v", err)
	}
	if want := good + ": ok, 2 clients: billing reports\n"; stdout.String() != want {
		t.Errorf("stdout = %q, want %q", stdout.String(), want)
	}
	for _, args := range [][]string{{"check", bad}, {"check", filepath.Join(dir, "absent")}} {
		stdout.Reset()
		err := run(t.Context(), append([]string{"sumd", "token"}, args...), func(string) string { return "" }, &stdout, io.Discard)
		if err == nil || !strings.Contains(err.Error(), args[1]) {
			t.Errorf("sumd token %q: got %v, want an error naming the file", args, err)
		}
		if args[1] == bad && (err == nil || !strings.Contains(err.Error(), bad+":2:")) {
			t.Errorf("sumd token %q: got %v, want the line at fault (%s:2:)", args, err, bad)
		}
		if stdout.Len() != 0 {
			t.Errorf("stdout = %q, want nothing for a bad file", stdout.String())
		}
	}
	// "check" alone is a client's name, as before
	stdout.Reset()
	if err := runToken([]string{"check"}, &stdout, io.Discard); err != nil || !strings.HasPrefix(stdout.String(), "isk_") {
		t.Errorf("sumd token check (one argument): got %v, %q; want a token for client check", err, stdout.String())
	}
}

func writeFile(tb testing.TB, path, content string) {
	tb.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		tb.Fatal(err)
	}
}
