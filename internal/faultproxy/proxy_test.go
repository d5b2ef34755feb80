package faultproxy_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, size := range []int{1, 1000, 32 << 10, 1<<20 + 7} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			t.Parallel()
			p := newProxy(t, startEcho(t).addr)
			c := dial(t, p.Addr())
			sent := make([]byte, size)
			rand.Read(sent)
			go func() {
				c.Write(sent)
				c.CloseWrite() // the echo server sees EOF, and then so do we
			}()
			got, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if !bytes.Equal(got, sent) {
				t.Fatalf("got %d bytes back, want the %d sent", len(got), size)
			}
			s := p.Stats()
			if s.BytesUp != int64(size) || s.BytesDown != int64(size) {
				t.Errorf("got %d up, %d down, want %d each way", s.BytesUp, s.BytesDown, size)
			}
			if s.Accepted != 1 {
				t.Errorf("got %d accepted, want 1", s.Accepted)
			}
		})
	}
}

func TestManyClients(t *testing.T) {
	t.Parallel()
	p := newProxy(t, startEcho(t).addr)
	var wg sync.WaitGroup
	for i := range 16 {
		c := dial(t, p.Addr())
		wg.Go(func() {
			for j := range 100 {
				if err := roundTrip(c, fmt.Appendf(nil, "client %d message %d", i, j)); err != nil {
					t.Errorf("client %d: %v", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got := p.Stats().Accepted; got != 16 {
		t.Errorf("got %d accepted, want 16", got)
	}
}

func TestTargetDown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close() // nothing listens there now
	p := newProxy(t, ln.Addr().String())
	mustBeTurnedAway(t, p.Addr())
	if got := p.Stats().Failed; got != 1 {
		t.Errorf("got %d failed, want 1", got)
	}
}

// TestCloseEndsGoroutines is not parallel, so that the count of goroutines
// is this test's own.
func TestCloseEndsGoroutines(t *testing.T) {
	echo := startEcho(t)
	base := runtime.NumGoroutine()
	p := newProxy(t, echo.addr)
	busy := dial(t, p.Addr())
	mustRoundTrip(t, busy, "before close")
	p.SetLatency(1 << 40) // chunks now wait in the proxy...
	busy.Write([]byte("waiting"))
	held := dial(t, p.Addr()) // ...or are held there
	p.Blackhole(true)
	held.Write([]byte("held"))
	eventually(t, "both links open", func() bool { return p.Stats().Open == 2 })

	if err := p.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	// Close has waited for them; they may still be returning.
	eventually(t, "no proxy goroutine left", func() bool {
		buf := make([]byte, 1<<20)
		return !strings.Contains(string(buf[:runtime.Stack(buf, true)]), "faultproxy.(*Proxy)")
	})
	readFails(t, busy)
	readFails(t, held)
	eventually(t, "goroutines back to baseline", func() bool { return runtime.NumGoroutine() <= base })
	if c, err := net.Dial("tcp", p.Addr()); err == nil {
		c.Close()
		t.Errorf("dial after Close succeeded, want refused")
	}
}
