package faultproxy_test

import (
	"errors"
	"net"
	"syscall"
	"testing"
)

func TestCutAfter(t *testing.T) {
	t.Parallel()
	echo := startEcho(t)
	p := newProxy(t, echo.addr)
	c := dial(t, p.Addr())
	mustRoundTrip(t, c, "before")
	p.CutAfter(10)
	mustRoundTrip(t, c, "four") // 4 of the 10
	c.Write([]byte("0123456789"))
	// The target echoes the 6 bytes it gets, but the client never sees them.
	if err := readFails(t, c); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("client: got %v, want a connection reset", err)
	}
	if e := echo.nextEnd(t); e.n != 16 || !errors.Is(e.err, syscall.ECONNRESET) {
		t.Errorf("target read %d bytes and ended with %v, want 16 (6+4+6) and a reset", e.n, e.err)
	}
	eventually(t, "16 bytes counted up", func() bool { return p.Stats().BytesUp == 16 })
	if got := p.Stats().Cut; got != 1 {
		t.Errorf("got %d cut, want 1", got)
	}
	mustRoundTrip(t, dial(t, p.Addr()), "one-shot: later connections work")
}

// TestCutAfterCountsAllConnections checks that the budget is shared and
// that the cut resets every connection, not only the one that crossed it.
func TestCutAfterCountsAllConnections(t *testing.T) {
	t.Parallel()
	echo := startEcho(t)
	p := newProxy(t, echo.addr)
	a, b := dial(t, p.Addr()), dial(t, p.Addr())
	p.CutAfter(5)
	mustRoundTrip(t, a, "abc")
	b.Write([]byte("defg"))
	for _, c := range []net.Conn{a, b} {
		if err := readFails(t, c); !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("client: got %v, want a connection reset", err)
		}
	}
	if n := echo.nextEnd(t).n + echo.nextEnd(t).n; n != 5 {
		t.Errorf("target read %d bytes in all, want 5 (3+2)", n)
	}
	eventually(t, "5 bytes counted up", func() bool { return p.Stats().BytesUp == 5 })
	if got := p.Stats().Cut; got != 2 {
		t.Errorf("got %d cut, want 2", got)
	}
}

func TestCutAfterZeroCutsNow(t *testing.T) {
	t.Parallel()
	p := newProxy(t, startEcho(t).addr)
	c := dial(t, p.Addr())
	mustRoundTrip(t, c, "before")
	p.CutAfter(0)
	readFails(t, c)
	if got := p.Stats().Cut; got != 1 {
		t.Errorf("got %d cut, want 1", got)
	}
}
