package faultproxy_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idemsum/idemsum/internal/faultproxy"
)

// TestFaultsUnderTraffic sets and clears every fault while clients stream
// through the proxy: no race, no stuck connection, and every echo that
// arrives is exactly what was sent.
func TestFaultsUnderTraffic(t *testing.T) {
	t.Parallel()
	p := newProxy(t, startEcho(t).addr)
	var trips atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() { client(t, p.Addr(), i, &trips, stop) })
	}
	faults := []func(){
		p.CutAll,
		func() { p.Refuse(true) },
		func() { p.SetLatency(time.Duration(rand.IntN(3)) * time.Millisecond) },
		func() { p.Blackhole(true) },
		func() { p.CutAfter(rand.Int64N(200)) },
	}
	for range 100 {
		faults[rand.IntN(len(faults))]()
		faults[rand.IntN(len(faults))]()
		p.Heal()
		progress(t, &trips, 8)
	}
	close(stop)
	wg.Wait()
	checkIdle(t, p)
}

// client makes round trips through addr until stop, dialling again after
// every error; it fails t only if an echo differs from what was sent.
func client(t *testing.T, addr string, id int, trips *atomic.Int64, stop chan struct{}) {
	for n := 0; ; {
		c, err := net.Dial("tcp", addr)
		for err == nil {
			select {
			case <-stop:
				c.Close()
				return
			default:
			}
			msg := fmt.Appendf(nil, "client %d message %d %s", id, n, make([]byte, rand.IntN(4000)))
			if err = roundTrip(c, msg); err == nil {
				trips.Add(1)
				n++
			} else if errors.Is(err, errEchoDiffers) {
				t.Errorf("client %d: %v", id, err)
			}
		}
		if c != nil {
			c.Close()
		}
		select {
		case <-stop:
			return
		default:
		}
	}
}

// progress waits until n more round trips have been made.
func progress(tb testing.TB, trips *atomic.Int64, n int64) {
	tb.Helper()
	want := trips.Load() + n
	eventually(tb, "round trips go on after Heal", func() bool { return trips.Load() >= want })
}

// checkIdle waits for every connection through p to have ended.
func checkIdle(tb testing.TB, p *faultproxy.Proxy) {
	tb.Helper()
	eventually(tb, "no connection left open", func() bool { return p.Stats().Open == 0 })
}
