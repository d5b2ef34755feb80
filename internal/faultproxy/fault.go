package faultproxy

import "time"

// CutAll resets every open connection now, both the client's side and the
// target's, with an RST (SO_LINGER 0) rather than an orderly close, and
// drops bytes held or in flight through the proxy. A request in flight,
// such as a MySQL COMMIT, so gets an unknown outcome. New connections are
// forwarded as before: CutAll is an event, not a state.
func (p *Proxy) CutAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cutLocked()
}

func (p *Proxy) cutLocked() {
	for l := range p.links {
		p.killLocked(l)
		p.cut.Add(1)
	}
}

// Refuse, while on, makes the proxy accept each new connection and reset
// it at once with an RST, without dialling the target. The kernel has
// already completed the handshake, so the client's connect usually
// succeeds and its first read or write fails; a connect that loses the
// race fails with a reset itself. A connection accepted before
// Refuse(true) but still dialling the target is refused too. Connections
// already forwarded keep working. Refuse(false) forwards new ones again.
func (p *Proxy) Refuse(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refuse = on
}

// SetLatency delays each chunk read after the call by d, in each
// direction, before it is written on (a round trip so takes at least 2d);
// 0 or less turns latency off. Chunks of one direction are delayed one
// after another, so a busy direction moves one chunk (≤ 32 KiB) per d.
func (p *Proxy) SetLatency(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.latency = max(d, 0)
}

// Blackhole, while on, keeps every connection open but forwards nothing,
// in either direction, end of stream included: each chunk read is held in
// the proxy, and the kernel buffers fill up behind it, as in a partition
// or a hung server. New connections are accepted and dialled, and then
// held the same way. Blackhole(false) lets the held bytes flow on, in
// order and none lost; CutAll or Close drops them instead.
func (p *Proxy) Blackhole(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.holdLocked(on)
}

func (p *Proxy) holdLocked(on bool) {
	select {
	case <-p.gate: // open: bytes flow
		if on {
			p.gate = make(chan struct{})
		}
	default:
		if !on {
			close(p.gate)
		}
	}
}

// Heal turns every fault off: Refuse(false), SetLatency(0),
// Blackhole(false) (held bytes flow on), and a CutAfter whose mark is not
// reached yet is cancelled. Connections already cut stay cut.
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refuse, p.latency = false, 0
	if p.budget > 0 {
		p.budget = -1
	}
	p.holdLocked(false)
}
