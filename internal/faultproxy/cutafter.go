package faultproxy

// CutAfter arms a one-shot cut: once n more bytes, counted over all
// connections, have been written from clients to the target, every open
// connection is reset as by CutAll. Exactly n bytes reach the target's
// sockets: the chunk that crosses the mark is split, and its rest, with
// anything other connections read meanwhile, is dropped. From the mark
// until the cut nothing is forwarded the other way either, so the client
// never sees the target's reply to the bytes that reached the mark (a
// COMMIT whose last byte is the n-th has an unknown outcome). n ≤ 0 cuts
// now. A later CutAfter replaces a pending one and Heal cancels it, but
// once the mark is reached the cut fires regardless.
func (p *Proxy) CutAfter(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n <= 0 {
		p.budget = -1
		p.cutLocked()
		return
	}
	p.budget = n
}

// spend takes up to n bytes from the CutAfter budget and returns how many
// of them to write, and whether writing them should fire the cut. Once
// the budget is used up, and until the cut fires, it lets nothing through.
func (p *Proxy) spend(n int) (int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.budget < 0 {
		return n, false
	}
	if p.budget == 0 {
		return 0, false
	}
	k := min(int64(n), p.budget)
	p.budget -= k
	return int(k), p.budget == 0
}

// cutting reports whether the CutAfter mark is reached and the cut is
// about to fire, during which nothing is forwarded.
func (p *Proxy) cutting() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.budget == 0
}

// trip fires the cut that spend announced.
func (p *Proxy) trip() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.budget == 0 {
		p.budget = -1
	}
	p.cutLocked()
}
