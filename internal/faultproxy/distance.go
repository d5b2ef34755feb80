package faultproxy

import (
	"errors"
	"io"
	"net"
	"time"
)

// SetDistance puts the target d away from its clients, one way, for the
// connections forwarded from now on: each chunk is written on d after it
// was read, while the chunks read after it are already on their way, as
// on a long network path whose bandwidth is not the limit (up to
// farChunks chunks, 8 MiB, in flight each way). SetLatency, by contrast,
// delays chunks one after another, so a busy direction moves one chunk
// per latency: a slow link as well as a far one. 0 or less turns distance
// off for new connections. Faults in force apply as well, when a chunk is
// due.
func (p *Proxy) SetDistance(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.distance = max(d, 0)
}

// farChunks bounds the chunks in flight in one direction of a connection
// at a distance.
const farChunks = 256

// chunk is one read of a connection at a distance, due at due.
type chunk struct {
	b   []byte
	due time.Time
	err error
}

// pipeFar is pipe for a connection d away: a reader stamps each chunk
// with the time it is due and queues it, and the writer (this goroutine)
// writes each when it is due.
func (p *Proxy) pipeFar(l *link, dst, src net.Conn, up bool, d time.Duration) {
	q := make(chan chunk, farChunks)
	go func() {
		defer close(q)
		for {
			buf := make([]byte, chunkSize)
			n, err := src.Read(buf)
			select {
			case q <- chunk{b: buf[:n], due: time.Now().Add(d), err: err}:
			case <-l.ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range q {
		if !until(l, c.due) || !p.await(l) {
			return
		}
		if len(c.b) > 0 && !p.write(l, dst, c.b, up) {
			p.kill(l)
			return
		}
		if errors.Is(c.err, io.EOF) {
			closeWrite(dst)
			return
		}
		if c.err != nil {
			p.kill(l)
			return
		}
	}
}

// until waits for t; it returns false if l was reset meanwhile.
func until(l *link, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return l.ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-l.ctx.Done():
		return false
	}
}
