// Package faultproxy is a TCP proxy that tests put between a process and a
// service it depends on, such as MySQL or Redis, to inject network faults
// while traffic flows: reset every connection (CutAll), refuse new ones
// (Refuse), slow every chunk down (SetLatency), hold every byte as in a
// partition or a hung server (Blackhole), or reset every connection once a
// given number of bytes has gone to the target (CutAfter), which lands a
// cut inside a transaction. Retarget moves it to another target, as a
// virtual IP moved to a promoted database server, and SetTarget does so
// for new connections only.
//
// A Proxy forwards each accepted connection to its target with two
// goroutines, one per direction. Each reads a chunk, waits for the faults
// in force (latency, then blackhole) and writes it on. End of stream is
// passed on as a half-close; any other error resets both sides. Every
// method is safe to call concurrently with the others and with traffic.
package faultproxy

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Proxy forwards TCP connections from Addr to a target and injects faults
// on demand. Make one with New and stop it with Close.
type Proxy struct {
	ln   net.Listener
	ctx  context.Context // cancelled by Close; parent of every link's
	stop context.CancelFunc
	wg   sync.WaitGroup // the accept loop and every forward

	mu       sync.Mutex
	target   string // the host:port new connections are dialled to
	links    map[*link]struct{}
	closed   bool
	refuse   bool
	latency  time.Duration
	distance time.Duration // for connections forwarded from now on (SetDistance)
	gate     chan struct{} // closed while bytes flow; open while blackholed
	budget   int64         // bytes to the target left before CutAfter fires; -1 when off

	accepted, refused, failed, cut, up, down atomic.Int64
}

// Stats counts what a Proxy has done since New. Up is the client → target
// direction, Down the target → client one; bytes are counted once written.
type Stats struct {
	Accepted  int64 // connections accepted, refused ones included
	Refused   int64 // connections reset unforwarded because of Refuse
	Failed    int64 // connections reset because the target could not be dialled
	Open      int   // connections being dialled or forwarded now
	Cut       int64 // connections reset by CutAll or CutAfter
	BytesUp   int64 // bytes forwarded from clients to the target
	BytesDown int64 // bytes forwarded from the target to clients
}

// dialTimeout bounds how long a connection waits for the target to answer.
const dialTimeout = 10 * time.Second

// New starts a Proxy listening on a free port of 127.0.0.1 that forwards
// every connection to target, a host:port dialled anew for each
// connection. No fault is in force until one is set.
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	p := &Proxy{
		ln: ln, target: target, ctx: ctx, stop: stop,
		links: map[*link]struct{}{}, gate: make(chan struct{}), budget: -1,
	}
	close(p.gate)
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// Addr returns the host:port the proxy listens on, for clients to dial
// instead of the target.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Close stops listening, resets every open connection, and returns once
// every goroutine of the proxy has ended. Held bytes are dropped. Later
// calls do nothing and return nil; faults set after Close have no effect.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	for l := range p.links {
		p.killLocked(l)
	}
	p.mu.Unlock()
	p.stop()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

// Stats returns the proxy's counters at this moment.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	open := len(p.links)
	p.mu.Unlock()
	return Stats{
		Accepted: p.accepted.Load(), Refused: p.refused.Load(),
		Failed: p.failed.Load(), Open: open, Cut: p.cut.Load(),
		BytesUp: p.up.Load(), BytesDown: p.down.Load(),
	}
}
