package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// sumdBin is the sumd binary Main built.
var sumdBin string

// Main is the TestMain of a package of end-to-end tests: it builds
// cmd/sumd once (without -race: the binary under test is the production
// build), runs the tests, removes the binary and exits with the tests'
// status:
//
//	func TestMain(m *testing.M) { harness.Main(m) }
func Main(m *testing.M) {
	dir, err := os.MkdirTemp("", "idemsum-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	code := 1
	if err := buildSumd(dir); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildSumd builds cmd/sumd into dir.
func buildSumd(dir string) error {
	bin := filepath.Join(dir, "sumd")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/idemsum/idemsum/cmd/sumd")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/sumd: %v\n%s", err, out)
	}
	sumdBin = bin
	return nil
}

// Sumd returns the path of the sumd binary Main built. It panics when
// Main did not run: call it from tests whose TestMain calls Main.
func Sumd() string {
	if sumdBin == "" {
		panic("harness: no sumd binary: the package's TestMain must call harness.Main")
	}
	return sumdBin
}
