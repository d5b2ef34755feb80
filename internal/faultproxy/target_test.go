package faultproxy_test

import (
	"errors"
	"syscall"
	"testing"
)

func TestRetarget(t *testing.T) {
	t.Parallel()
	old, moved := startEcho(t), startEcho(t)
	p := newProxy(t, old.addr)
	c := dial(t, p.Addr())
	mustRoundTrip(t, c, "to the old target")
	p.Retarget(moved.addr)
	if err := readFails(t, c); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("connection open at Retarget: got %v, want a connection reset", err)
	}
	if e := old.nextEnd(t); !errors.Is(e.err, syscall.ECONNRESET) {
		t.Errorf("old target's side: got %v, want a connection reset", e.err)
	}
	mustRoundTrip(t, dial(t, p.Addr()), "to the new target")
	if got, want := p.Target(), moved.addr; got != want {
		t.Errorf("Target() = %s, want %s", got, want)
	}
	if o, m := old.accepted.Load(), moved.accepted.Load(); o != 1 || m != 1 {
		t.Errorf("targets saw %d and %d connections, want 1 each", o, m)
	}
	if s := p.Stats(); s.Cut != 1 {
		t.Errorf("got %d cut, want 1", s.Cut)
	}
}

func TestSetTarget(t *testing.T) {
	t.Parallel()
	old, moved := startEcho(t), startEcho(t)
	p := newProxy(t, old.addr)
	kept := dial(t, p.Addr())
	mustRoundTrip(t, kept, "to the old target")
	p.SetTarget(moved.addr)
	mustRoundTrip(t, kept, "an open connection stays on the old target")
	mustRoundTrip(t, dial(t, p.Addr()), "a new one goes to the new target")
	if o, m := old.accepted.Load(), moved.accepted.Load(); o != 1 || m != 1 {
		t.Errorf("targets saw %d and %d connections, want 1 each", o, m)
	}
	if s := p.Stats(); s.Cut != 0 {
		t.Errorf("got %d cut, want none", s.Cut)
	}
}
