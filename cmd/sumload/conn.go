package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"time"
)

// A lean HTTP/1.1 client, so that the load generator costs little next to
// what it measures (with net/http's client sumload used about three times
// wrk's CPU per request): one persistent connection per worker and
// instance, requests written as prebuilt bytes, responses read for their
// status, the two headers the check needs and a Content-Length body.

// conn is a keep-alive connection to one target, dialled when needed and
// closed after an error or a Connection: close. It is used by one
// goroutine at a time; ctx's end interrupts its dial and its requests.
type conn struct {
	t    *target
	ctx  context.Context
	nc   net.Conn
	br   *bufio.Reader
	stop func() bool // unregisters nc's interruption by ctx
	resp response
}

func newConn(ctx context.Context, t *target) *conn {
	return &conn{t: t, ctx: ctx, br: bufio.NewReaderSize(nil, 4096)}
}

// do sends req, a whole HTTP/1.1 request, and reads the response; it gives
// up at deadline. The response's body is valid until the next do.
func (c *conn) do(req []byte, deadline time.Time) (*response, error) {
	err := c.roundTrip(req, deadline)
	if err != nil || !c.resp.keep {
		c.close()
	}
	if err != nil && c.ctx.Err() != nil {
		err = c.ctx.Err() // rather than the deadline that ctx's end set
	}
	return &c.resp, err
}

func (c *conn) roundTrip(req []byte, deadline time.Time) error {
	if c.nc == nil {
		if err := c.dial(deadline); err != nil {
			return err
		}
	}
	c.nc.SetDeadline(deadline)
	if err := c.ctx.Err(); err != nil { // after SetDeadline: see dial
		return err
	}
	if _, err := c.nc.Write(req); err != nil {
		return err
	}
	return c.resp.read(c.br)
}

// dial connects, and arranges for ctx's end to make any read or write on
// the connection fail at once. do checks ctx after each SetDeadline, which
// would otherwise undo that.
func (c *conn) dial(deadline time.Time) error {
	d := &net.Dialer{Deadline: deadline}
	var nc net.Conn
	var err error
	if c.t.tls != nil {
		nc, err = (&tls.Dialer{NetDialer: d, Config: c.t.tls}).DialContext(c.ctx, "tcp", c.t.addr)
	} else {
		nc, err = d.DialContext(c.ctx, "tcp", c.t.addr)
	}
	if err != nil {
		return err
	}
	c.nc = nc
	c.br.Reset(nc)
	c.stop = context.AfterFunc(c.ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	return nil
}

func (c *conn) close() {
	if c.nc != nil {
		c.stop()
		c.nc.Close()
		c.nc = nil
	}
}
