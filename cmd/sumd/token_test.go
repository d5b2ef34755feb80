package main

import (
	"bytes"
	"strings"
	"testing"

	"idemsum/auth"
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
