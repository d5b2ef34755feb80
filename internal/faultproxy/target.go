package faultproxy

// SetTarget points every connection accepted from now on at addr, a
// host:port, and leaves open connections on the target they were dialled
// to, as a load balancer whose backend is switched without closing the
// sessions it has (HAProxy without on-marked-down shutdown-sessions). A
// connection whose dial has begun keeps the old target too.
func (p *Proxy) SetTarget(addr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.target = addr
}

// Retarget points new connections at addr and resets every open one (as
// CutAll), as a virtual IP or a proxy moved to a promoted server: nothing
// sent from now on reaches the old target, and a client learns at its
// next read or write that its connection is gone.
func (p *Proxy) Retarget(addr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.target = addr
	p.cutLocked()
}

// Target returns the address new connections are dialled to.
func (p *Proxy) Target() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.target
}
