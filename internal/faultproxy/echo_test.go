package faultproxy_test

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// echoServer is a TCP echo server for one test. ends receives, for each
// connection it served, the bytes it read and the error that ended it.
type echoServer struct {
	addr     string
	accepted atomic.Int64
	ends     chan end
}

type end struct {
	n   int64
	err error
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

// startEcho starts an echo server that Cleanup stops, waiting for its
// goroutines.
func startEcho(tb testing.TB) *echoServer {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	e := &echoServer{addr: ln.Addr().String(), ends: make(chan end, 1000)}
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	stopped := false
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.accepted.Add(1)
			mu.Lock()
			conns[c] = true
			if stopped {
				c.Close()
			}
			mu.Unlock()
			wg.Go(func() {
				r := &countingReader{r: c}
				_, err := io.Copy(c, r)
				c.Close()
				e.ends <- end{r.n, err}
			})
		}
	})
	tb.Cleanup(func() {
		ln.Close()
		mu.Lock()
		stopped = true
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return e
}

// nextEnd returns how the echo server's next connection to end ended.
func (e *echoServer) nextEnd(tb testing.TB) end {
	tb.Helper()
	select {
	case x := <-e.ends:
		return x
	case <-time.After(patience):
		tb.Fatalf("no echo connection ended within %v", patience)
		return end{}
	}
}
