package faultproxy_test

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// At a distance, the chunks of a long transfer travel together: 2 MiB (64
// chunks) go there and back in about two distances, where SetLatency,
// which delays chunks one after another, needs at least 64 latencies each
// way. The bounds are the two properties, not a speed: at least 2d, and
// less than the 64d that chunks delayed one after another would take.
func TestDistancePipelinesChunks(t *testing.T) {
	t.Parallel()
	const d = 50 * time.Millisecond
	p := newProxy(t, startEcho(t).addr)
	p.SetDistance(d)
	c := dial(t, p.Addr())
	msg := bytes.Repeat([]byte("0123456789abcdef"), 2<<20/16)
	c.SetDeadline(time.Now().Add(patience))
	start := time.Now()
	go c.Write(msg)
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read the echo: %v", err)
	}
	took := time.Since(start)
	if !bytes.Equal(got, msg) {
		t.Fatal("the echo differs from what was sent")
	}
	if took < 2*d || took >= 64*d {
		t.Fatalf("2 MiB there and back took %v, want at least %v (d each way) and less than %v (chunks one after another)", took, 2*d, 64*d)
	}
}

// Distance applies to connections forwarded after SetDistance, and a
// round trip on one takes at least two distances.
func TestDistanceIsForNewConnections(t *testing.T) {
	t.Parallel()
	const d = 40 * time.Millisecond
	p := newProxy(t, startEcho(t).addr)
	near := dial(t, p.Addr())
	mustRoundTrip(t, near, "warm up")
	p.SetDistance(d)
	far := dial(t, p.Addr())
	for range 3 {
		start := time.Now()
		mustRoundTrip(t, far, "far")
		if took := time.Since(start); took < 2*d {
			t.Errorf("round trip at a distance took %v, want at least %v", took, 2*d)
		}
	}
	mustRoundTrip(t, near, "the older connection still works")
	p.SetDistance(0)
	mustRoundTrip(t, dial(t, p.Addr()), "near again")
}
