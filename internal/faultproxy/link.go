package faultproxy

import (
	"context"
	"net"
	"time"
)

// link is one client connection and, once dialled, its connection to the
// target. server is written under Proxy.mu; the pipes get both conns as
// arguments and never read the fields.
type link struct {
	ctx    context.Context // cancelled when the link is reset or the proxy closes
	cancel context.CancelFunc
	client net.Conn
	server net.Conn
}

// serve accepts connections until the listener is closed.
func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			select { // a transient error such as EMFILE: back off a little
			case <-p.ctx.Done():
				return
			case <-time.After(10 * time.Millisecond):
				continue
			}
		}
		p.accepted.Add(1)
		if l := p.admit(c); l != nil {
			p.wg.Add(1)
			go p.forward(l)
		}
	}
}

// admit registers c as a new link, or resets it and returns nil while the
// proxy refuses connections or is closed.
func (p *Proxy) admit(c net.Conn) *link {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.refuse {
		if !p.closed {
			p.refused.Add(1)
		}
		reset(c)
		return nil
	}
	ctx, cancel := context.WithCancel(p.ctx)
	l := &link{ctx: ctx, cancel: cancel, client: c}
	p.links[l] = struct{}{}
	return l
}

// forward dials the target for l and copies both ways until both
// directions have ended, then closes l.
func (p *Proxy) forward(l *link) {
	defer p.wg.Done()
	defer p.drop(l)
	var d net.Dialer
	ctx, cancel := context.WithTimeout(l.ctx, dialTimeout)
	s, err := d.DialContext(ctx, "tcp", p.Target())
	cancel()
	if err != nil {
		p.failed.Add(1)
		p.kill(l)
		return
	}
	if !p.attach(l, s) {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.pipe(l, l.client, s, false)
	}()
	p.pipe(l, s, l.client, true)
	<-done
}

// attach gives l its target connection s, unless l was reset while
// dialling or the proxy began refusing meanwhile; then it resets both.
func (p *Proxy) attach(l *link, s net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if l.ctx.Err() == nil && !p.refuse {
		l.server = s
		return true
	}
	if l.ctx.Err() == nil {
		p.refused.Add(1)
	}
	reset(s)
	p.killLocked(l)
	return false
}
