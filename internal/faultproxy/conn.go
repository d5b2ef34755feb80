package faultproxy

import "net"

// drop forgets l and closes both its connections in the ordinary way
// (a no-op for connections already reset).
func (p *Proxy) drop(l *link) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.links, l)
	l.cancel()
	l.client.Close()
	if l.server != nil {
		l.server.Close()
	}
}

// kill resets both sides of l.
func (p *Proxy) kill(l *link) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.killLocked(l)
}

func (p *Proxy) killLocked(l *link) {
	delete(p.links, l)
	l.cancel()
	reset(l.client)
	if l.server != nil {
		reset(l.server)
	}
}

// reset closes c so that its peer sees a connection reset (RST) rather
// than an orderly end of stream, and unsent bytes are dropped.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// closeWrite passes an end of stream on to c's peer, keeping the other
// direction open.
func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		return
	}
	c.Close()
}
