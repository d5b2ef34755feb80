// Command sumload drives one or more sumd instances with concurrent
// additions, reports throughput, latency percentiles and counts by status,
// and checks afterwards that the total moved by exactly the sum of the
// accepted additions.
//
//	sumload -urls http://127.0.0.1:8081,http://127.0.0.1:8082 -c 64 -d 10s
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args, os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return // -h: the usage was printed
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sumload:", err)
		os.Exit(1)
	}
}
