package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDevNullIsNoTerminal: /dev/null and files get the buffered JSON
// lines, not the terminal's immediate text lines.
func TestDevNullIsNoTerminal(t *testing.T) {
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	file, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	for _, f := range []*os.File{null, file} {
		if terminal(f) {
			t.Errorf("terminal(%s): got true, want false", f.Name())
		}
	}
}
