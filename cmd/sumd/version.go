package main

import (
	"io"

	"github.com/idemsum/idemsum/internal/buildinfo"
)

// runVersion is "sumd version" and "sumd -version": it prints which
// release this binary is (docs/operations.md#versions).
func runVersion(stdout io.Writer) error {
	_, err := io.WriteString(stdout, "sumd\n"+buildinfo.Read().String())
	return err
}
