package mysql_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/idemsum/idemsum"
)

// BenchmarkLedgerAdd measures additions per second through real MariaDB,
// one transaction per Add, by batch size. Compare ns/op across sizes: the
// cost per addition falls with the batch (group commit).
func BenchmarkLedgerAdd(b *testing.B) {
	for _, size := range []int{1, 8, 32, 256} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			l, _ := newLedger(b)
			var n atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				adds := make([]idemsum.Addition, size)
				for pb.Next() {
					for i := range adds {
						adds[i] = idemsum.Addition{Key: fmt.Sprintf("k%d", n.Add(1)), Number: 1}
					}
					if _, err := l.Add(context.Background(), adds); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "additions/s")
		})
	}
}
