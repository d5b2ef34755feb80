package main

import (
	"context"
	"time"
)

// client is one goroutine's way to the instances: a connection to each and
// the buffer its requests are built in.
type client struct {
	targets []*target
	conns   []*conn
	prefix  string
	timeout time.Duration
	buf     []byte
}

// newClient returns a client whose requests ctx's end interrupts.
func (l *loader) newClient(ctx context.Context) *client {
	c := &client{targets: l.targets, prefix: l.prefix, timeout: l.cfg.Timeout}
	for _, t := range l.targets {
		c.conns = append(c.conns, newConn(ctx, t))
	}
	return c
}

// add sends k to instance i (modulo their number); after a transport
// error, the outcome's status is 0. (The error is not in the outcome,
// whose lack of pointers spares the garbage collector scanning them all.)
func (c *client) add(i int, k keyed) (outcome, error) {
	i %= len(c.conns)
	c.buf = c.targets[i].appendAdd(c.buf[:0], c.prefix, k)
	start := time.Now()
	r, err := c.conns[i].do(c.buf, start.Add(c.timeout))
	o := outcome{latency: time.Since(start)}
	if err == nil {
		o.status, o.replayed = r.status, r.replayed
	}
	return o, err
}

func (c *client) close() {
	for _, cn := range c.conns {
		cn.close()
	}
}
