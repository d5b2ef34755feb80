// Command orders runs the example orders service (package orders), the
// idempotency toolkit's tutorial service: see docs/toolkit.md.
//
//	orders -store=mysql                       # claims and records in MySQL
//	orders -store=redis -redis-secret=s3cret  # claims and records in Redis
//
// Every flag has an environment variable (ORDERS_...); orders -h lists
// them. SIGINT or SIGTERM stops it gracefully.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "orders:", err)
		os.Exit(1)
	}
}
