package groupcommit_test

import (
	"context"
	"testing"

	"github.com/idemsum/idemsum"
	"github.com/idemsum/idemsum/groupcommit"
	"github.com/idemsum/idemsum/idemsumtest"
)

// BenchmarkAdder measures the group-commit machinery itself over an
// in-memory ledger.
func BenchmarkAdder(b *testing.B) {
	a := groupcommit.New(&idemsumtest.Ledger{}, 64, 0, 1)
	defer a.Close()
	b.ReportAllocs()
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := a.Add(context.Background(), idemsum.Addition{Number: 1}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
