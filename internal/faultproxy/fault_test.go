package faultproxy_test

import (
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestCutAll(t *testing.T) {
	t.Parallel()
	echo := startEcho(t)
	p := newProxy(t, echo.addr)
	reading, idle := dial(t, p.Addr()), dial(t, p.Addr())
	mustRoundTrip(t, reading, "a")
	mustRoundTrip(t, idle, "b")
	failed := make(chan error, 1)
	go func() { failed <- readFails(t, reading) }() // blocked in a read, as on a COMMIT's reply
	p.CutAll()
	if err := <-failed; !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("blocked read: got %v, want a connection reset", err)
	}
	if err := readFails(t, idle); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("idle connection: got %v, want a connection reset", err)
	}
	for range 2 {
		if e := echo.nextEnd(t); !errors.Is(e.err, syscall.ECONNRESET) {
			t.Errorf("server side: got %v, want a connection reset", e.err)
		}
	}
	if s := p.Stats(); s.Cut != 2 || s.Open != 0 {
		t.Errorf("got %d cut, %d open, want 2 and 0", s.Cut, s.Open)
	}
	mustRoundTrip(t, dial(t, p.Addr()), "a new connection works")
}

func TestRefuse(t *testing.T) {
	t.Parallel()
	echo := startEcho(t)
	p := newProxy(t, echo.addr)
	old := dial(t, p.Addr())
	mustRoundTrip(t, old, "before")
	p.Refuse(true)
	mustBeTurnedAway(t, p.Addr())
	mustRoundTrip(t, old, "an old connection keeps working")
	p.Refuse(false)
	mustRoundTrip(t, dial(t, p.Addr()), "a new one works again")
	if got := p.Stats().Refused; got != 1 {
		t.Errorf("got %d refused, want 1", got)
	}
	if got := echo.accepted.Load(); got != 2 {
		t.Errorf("target saw %d connections, want 2 (the refused one not forwarded)", got)
	}
}

func TestLatency(t *testing.T) {
	t.Parallel()
	const d = 30 * time.Millisecond
	p := newProxy(t, startEcho(t).addr)
	c := dial(t, p.Addr())
	mustRoundTrip(t, c, "warm up")
	p.SetLatency(d)
	for range 3 {
		start := time.Now()
		mustRoundTrip(t, c, "slow")
		if took := time.Since(start); took < 2*d || took > 2*d+patience {
			t.Errorf("round trip took %v, want at least %v (d each way)", took, 2*d)
		}
	}
	p.SetLatency(0)
	mustRoundTrip(t, c, "fast again") // no bound: timing belongs in benchmarks
}

func TestBlackhole(t *testing.T) {
	t.Parallel()
	p := newProxy(t, startEcho(t).addr)
	old := dial(t, p.Addr())
	mustRoundTrip(t, old, "before")
	// Bytes are counted just after they are written, maybe after the echo.
	eventually(t, "6 bytes counted up", func() bool { return p.Stats().BytesUp == 6 })
	p.Blackhole(true)
	fresh := dial(t, p.Addr()) // accepted, but held like the others
	old.Write([]byte("x"))
	old.Write([]byte("y"))
	fresh.Write([]byte("z"))
	for _, c := range []net.Conn{old, fresh} {
		c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if n, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read during blackhole: got %d bytes, %v, want a timeout", n, err)
		}
	}
	if got := p.Stats().BytesUp; got != 6 {
		t.Errorf("got %d bytes up during blackhole, want still 6", got)
	}
	p.Blackhole(false)
	mustRead(t, old, "xy") // held bytes flow on, in order
	mustRead(t, fresh, "z")
}

func TestHeal(t *testing.T) {
	t.Parallel()
	p := newProxy(t, startEcho(t).addr)
	held := dial(t, p.Addr())
	p.Blackhole(true)
	held.Write([]byte("held"))
	p.SetLatency(time.Hour) // for chunks read from now on
	p.Refuse(true)
	p.CutAfter(1)
	p.Heal()
	mustRead(t, held, "held")
	mustRoundTrip(t, dial(t, p.Addr()), "neither refused, slowed, held nor cut")
	if s := p.Stats(); s.Refused != 0 || s.Cut != 0 {
		t.Errorf("got %d refused, %d cut, want none", s.Refused, s.Cut)
	}
}
