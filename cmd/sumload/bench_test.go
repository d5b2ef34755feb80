package main

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"
)

// BenchmarkAdd measures one worker's cost per request against a server
// that answers at once: pick, send, record (in the worker's tally).
func BenchmarkAdd(b *testing.B) {
	const ok = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{\"total\":1}\n"
	ts := newRawServer(b, func(int, []byte) (string, bool) { return ok, false })
	for _, keys := range []string{"unique", "none", "dup"} {
		b.Run(keys, func(b *testing.B) {
			l := newLoader(config{URLs: []string{ts.url}, Concurrency: 1, Keys: keys, DupShare: 0.2, Min: 1, Max: 1000, Timeout: 5 * time.Second})
			c := l.newClient(context.Background())
			defer c.close()
			rng := rand.New(rand.NewPCG(1, 2))
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				k := l.pick(rng)
				o, _ := c.add(i, k)
				l.tallies[0].record(k, o, true)
			}
		})
	}
}
