// Command sumd serves idemsum: it adds natural numbers to a running total
// kept in MySQL, exactly once per idempotency key. See README.md and docs/.
package main

import (
	"fmt"
	"os"
)

func main() {
	ctx, stop := interrupts()
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "sumd:", err)
		os.Exit(1)
	}
}
