package e2e_test

import (
	"net"
	"sync"
	"testing"
	"time"
)

// Proxy is a TCP proxy between the instances and MySQL or Redis that the
// test controls: it can cut every connection, refuse new ones (the
// service is down) and hold all bytes (the service is stalled).
type Proxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	conns   map[net.Conn]bool
	refuse  bool
	gate    chan struct{} // closed while bytes flow
	replies chan struct{} // closed while the service's replies flow
}

// startProxy listens on a free local port and forwards to target until
// Cleanup.
func startProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]bool{}, gate: make(chan struct{}), replies: make(chan struct{})}
	close(p.gate)
	close(p.replies)
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.Resume()
		p.Cut()
	})
	return p
}

// Addr returns the address the proxy listens on.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.connect(c)
	}
}

func (p *Proxy) connect(c net.Conn) {
	p.mu.Lock()
	refuse := p.refuse
	p.mu.Unlock()
	if refuse {
		c.Close()
		return
	}
	s, err := net.DialTimeout("tcp", p.target, 3*time.Second)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.refuse { // went down while dialing
		c.Close()
		s.Close()
		return
	}
	p.conns[c], p.conns[s] = true, true
	go p.pipe(s, c, false)
	go p.pipe(c, s, true)
}

// pipe copies src to dst, holding each chunk while the proxy is paused
// (or, for the service's replies, while replies are paused).
func (p *Proxy) pipe(dst, src net.Conn, reply bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			gate, replies := p.gate, p.replies
			p.mu.Unlock()
			<-gate
			if reply {
				<-replies
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	dst.Close()
	src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

// Cut closes every connection through the proxy.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// Refuse makes the proxy close new connections at once (down), or
// forward them again.
func (p *Proxy) Refuse(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refuse = down
}

// Pause holds every byte in flight until Resume: the service stalls.
func (p *Proxy) Pause() { p.hold(&p.gate) }

// PauseReplies holds the service's replies until Resume, but lets the
// clients' requests through: the service does the work, and the client
// looks stalled to it.
func (p *Proxy) PauseReplies() { p.hold(&p.replies) }

// Resume lets the held bytes through.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, g := range []chan struct{}{p.gate, p.replies} {
		select {
		case <-g:
		default:
			close(g)
		}
	}
}

func (p *Proxy) hold(gate *chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-*gate:
		*gate = make(chan struct{})
	default:
	}
}
