package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
)

// Listener returns ln with every accepted connection wrapped so that the
// plain-text 5xx answers net/http writes by itself, before any handler runs,
// to requests it cannot read become 400 problems: bad input never gets a
// 5xx. They are the 501 for a Transfer-Encoding other than one "chunked"
// field and the 505 for an HTTP version other than 1.x. net/http writes each
// whole in a single Write straight on the connection, between responses,
// and then closes it. So a Write that begins with one of those heads (its
// status line, then exactly "Content-Type: text/plain; charset=utf-8" and
// "Connection: close") is replaced by a 400 application/problem+json with
// "Connection: close"; every other Write, including any part of a normal
// response, passes through byte for byte.
//
// Use it on the plain-TCP listener given to http.Server.Serve. Accept, Close
// and Addr are ln's; a conn is as safe for concurrent use as ln's conns and
// keeps their CloseWrite, so net/http still lingers before closing.
func Listener(ln net.Listener) net.Listener { return listener{ln} }

// builtin is the head of one response net/http writes by itself and the
// whole response that replaces it.
type builtin struct {
	head        []byte
	replacement []byte
}

// builtinHeaders follow the status line of net/http's own error answers
// (errorHeaders in net/http/server.go, conn.serve).
const builtinHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// builtins are net/http's own 5xx answers to requests it cannot read.
var builtins = []builtin{
	{[]byte("HTTP/1.1 501 Not Implemented" + builtinHeaders),
		badRequest("the request's Transfer-Encoding is not supported; send the body with Content-Length or Transfer-Encoding: chunked")},
	{[]byte("HTTP/1.1 505 HTTP Version Not Supported: unsupported protocol version" + builtinHeaders),
		badRequest("the request's HTTP version is not supported; use HTTP/1.1")},
}

// badRequest returns a whole 400 response whose body is an invalid-input
// problem, the way writeProblem writes it.
func badRequest(detail string) []byte {
	status := http.StatusBadRequest
	body, _ := json.Marshal(problem{
		Type:   "urn:idemsum:problem:invalid-input",
		Title:  http.StatusText(status),
		Status: status,
		Detail: detail,
	})
	body = append(body, '\n')
	head := fmt.Sprintf("HTTP/1.1 %d %s\r\nContent-Type: application/problem+json\r\nConnection: close\r\nContent-Length: %d\r\n\r\n",
		status, http.StatusText(status), len(body))
	return append([]byte(head), body...)
}

type listener struct{ net.Listener }

func (l listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return conn{c}, nil
}

type conn struct{ net.Conn }

// Write replaces a built-in 5xx response and passes anything else on. It
// reports len(p) written when the replacement was written whole.
func (c conn) Write(p []byte) (int, error) {
	for _, b := range builtins {
		if bytes.HasPrefix(p, b.head) {
			if _, err := c.Conn.Write(b.replacement); err != nil {
				return 0, err
			}
			return len(p), nil
		}
	}
	return c.Conn.Write(p)
}

// CloseWrite half-closes the connection when the wrapped one can, so that
// net/http still lingers before closing (after a 431, or a response sent
// before the request body was read).
func (c conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
