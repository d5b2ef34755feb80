package faultproxy

import (
	"errors"
	"io"
	"net"
	"time"
)

// chunkSize is the most one read takes, and so the unit that latency and
// blackholing apply to.
const chunkSize = 32 << 10

// pipe copies src to dst for l, one chunk at a time, each after the faults
// in force let it through; up is the client → target direction. End of
// stream becomes a half-close of dst; any other error, or a cut, resets l.
func (p *Proxy) pipe(l *link, dst, src net.Conn, up bool) {
	p.mu.Lock()
	far := p.distance
	p.mu.Unlock()
	if far > 0 {
		p.pipeFar(l, dst, src, up, far)
		return
	}
	buf := make([]byte, chunkSize)
	for {
		n, err := src.Read(buf)
		if !p.await(l) {
			return
		}
		if n > 0 && !p.write(l, dst, buf[:n], up) {
			p.kill(l)
			return
		}
		if errors.Is(err, io.EOF) {
			closeWrite(dst)
			return
		}
		if err != nil {
			p.kill(l)
			return
		}
	}
}

// write passes chunk on to dst, or only as much of it as a pending
// CutAfter allows, firing the cut when it is due. It reports whether the
// whole chunk was written; if not, the link must not go on, and write
// returns once l is cut.
func (p *Proxy) write(l *link, dst net.Conn, chunk []byte, up bool) bool {
	if !up {
		if p.cutting() {
			<-l.ctx.Done()
			return false
		}
		n, err := dst.Write(chunk)
		p.down.Add(int64(n))
		return err == nil
	}
	k, trip := p.spend(len(chunk))
	var err error
	if k > 0 {
		var n int
		n, err = dst.Write(chunk[:k])
		p.up.Add(int64(n))
	}
	if trip {
		p.trip()
	}
	if k < len(chunk) {
		<-l.ctx.Done()
		return false
	}
	return err == nil
}

// await holds a chunk just read for the latency in force, then for as long
// as the proxy is blackholed. It returns false if l was reset meanwhile.
func (p *Proxy) await(l *link) bool {
	p.mu.Lock()
	d := p.latency
	p.mu.Unlock()
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-l.ctx.Done():
			return false
		}
	}
	p.mu.Lock()
	gate := p.gate
	p.mu.Unlock()
	select {
	case <-gate:
		return l.ctx.Err() == nil
	case <-l.ctx.Done():
		return false
	}
}
