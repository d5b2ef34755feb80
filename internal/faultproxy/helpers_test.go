package faultproxy_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/idemsum/idemsum/internal/faultproxy"
)

// patience bounds every wait for something that should happen promptly.
const patience = 10 * time.Second

// newProxy starts a proxy to target that Cleanup closes.
func newProxy(tb testing.TB, target string) *faultproxy.Proxy {
	tb.Helper()
	p, err := faultproxy.New(target)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	tb.Cleanup(func() { p.Close() })
	return p
}

// dial connects to addr; Cleanup closes the connection.
func dial(tb testing.TB, addr string) *net.TCPConn {
	tb.Helper()
	c, err := net.DialTimeout("tcp", addr, patience)
	if err != nil {
		tb.Fatalf("dial %s: %v", addr, err)
	}
	tb.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// errEchoDiffers is the error of a round trip that got other bytes back.
var errEchoDiffers = errors.New("echo differs from what was sent")

// roundTrip writes msg to c and reads it back, within patience.
func roundTrip(c net.Conn, msg []byte) error {
	c.SetDeadline(time.Now().Add(patience))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write(msg); err != nil {
		return err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if !bytes.Equal(got, msg) {
		return errEchoDiffers
	}
	return nil
}

// mustRoundTrip fails tb unless msg goes to the echo server and back.
func mustRoundTrip(tb testing.TB, c net.Conn, msg string) {
	tb.Helper()
	if err := roundTrip(c, []byte(msg)); err != nil {
		tb.Fatalf("round trip of %q: %v", msg, err)
	}
}

// readFails waits, at most patience, for a read of c to fail, and returns
// the error; it fails tb if data arrives or the read times out.
func readFails(tb testing.TB, c net.Conn) error {
	tb.Helper()
	c.SetReadDeadline(time.Now().Add(patience))
	n, err := c.Read(make([]byte, 1))
	if n > 0 || err == nil {
		tb.Fatalf("read got %d bytes, want an error", n)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		tb.Fatalf("read still blocked after %v, want an error", patience)
	}
	return err
}

// eventually polls cond until it holds, failing tb after patience.
func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not so after %v", what, patience)
		}
		<-tick.C
	}
}

// mustBeTurnedAway fails tb unless a connection to addr fails promptly:
// either the dial or the first read, since the proxy accepts and resets.
func mustBeTurnedAway(tb testing.TB, addr string) {
	tb.Helper()
	c, err := net.DialTimeout("tcp", addr, patience)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			tb.Fatalf("dial still blocked after %v", patience)
		}
		return
	}
	defer c.Close()
	readFails(tb, c)
}

// mustRead fails tb unless want arrives on c within patience.
func mustRead(tb testing.TB, c net.Conn, want string) {
	tb.Helper()
	c.SetReadDeadline(time.Now().Add(patience))
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		tb.Fatalf("read: %v", err)
	}
	if string(got) != want {
		tb.Fatalf("read %q, want %q", got, want)
	}
}
