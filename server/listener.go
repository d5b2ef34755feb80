package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
)

// Listener returns ln with every accepted connection wrapped so that the
// plain-text answers net/http writes by itself, before any handler runs,
// to requests it cannot read become problems (application/problem+json,
// outcome "not-added", Connection: close): a 400 for a malformed request
// (request line, header line, Host) stays a 400, invalid-input; a 431 for
// a header over MaxHeaderBytes stays a 431, headers-too-large; the 501 for
// a Transfer-Encoding other than one "chunked" field and the 505 for an
// HTTP version other than 1.x become 400s, invalid-input, since bad input
// never gets a 5xx.
//
// net/http writes each such answer whole in a single Write straight on the
// connection, between responses, and then closes it: its status line,
// exactly "Content-Type: text/plain; charset=utf-8" and "Connection:
// close", and a body that repeats the status (or, for the 501,
// "Unsupported transfer encoding"). Only a Write that is exactly one of
// those is replaced; every other Write, including any part of a normal
// response, passes through byte for byte. A handler's response has that
// form only if the handler removes Date, sets "Transfer-Encoding:
// identity" (so that net/http neither chunks nor sends Content-Length)
// and writes exactly net/http's text as the body: none of this service's
// handlers does.
//
// Use it on the plain-TCP listener given to http.Server.Serve. Accept, Close
// and Addr are ln's; a conn is as safe for concurrent use as ln's conns and
// keeps their CloseWrite, so net/http still lingers before closing.
func Listener(ln net.Listener) net.Listener { return listener{ln} }

// builtinHeaders follow the status line of net/http's own error answers
// (errorHeaders in net/http/server.go, conn.serve).
const builtinHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// maxBuiltin bounds the length of net/http's own error answers, so that
// longer Writes are passed on without a look.
const maxBuiltin = 512

// The whole responses that replace net/http's fixed answers.
var (
	transferEncodingProblem = builtinProblem(http.StatusBadRequest, "invalid-input",
		"the request's Transfer-Encoding is not supported; send the body with Content-Length or Transfer-Encoding: chunked; nothing was added")
	versionProblem = builtinProblem(http.StatusBadRequest, "invalid-input",
		"the request's HTTP version is not supported; use HTTP/1.1; nothing was added")
	headersTooLargeProblem = builtinProblem(http.StatusRequestHeaderFieldsTooLarge, "headers-too-large",
		"the request's header is over the server's limit; nothing was added")
	malformedProblem = builtinProblem(http.StatusBadRequest, "invalid-input",
		"the request is malformed (its request line or a header line); nothing was added")
)

// replacement returns the response that replaces p when p is, whole, one
// of net/http's own error answers, else nil.
func replacement(p []byte) []byte {
	// A cheap look first: every response's head passes here.
	if len(p) > maxBuiltin || !bytes.HasPrefix(p, []byte("HTTP/1.1 ")) || !bytes.Contains(p, []byte(builtinHeaders)) {
		return nil
	}
	head, body, _ := strings.Cut(string(p), builtinHeaders)
	status := strings.TrimPrefix(head, "HTTP/1.1 ")
	if strings.ContainsAny(status, "\r\n") {
		return nil
	}
	if status == "501 Not Implemented" && body == "Unsupported transfer encoding" {
		return transferEncodingProblem
	}
	if body != status { // the others repeat their status line as the body
		return nil
	}
	switch reason, hasReason := strings.CutPrefix(status, "400 Bad Request: "); {
	case status == "431 Request Header Fields Too Large":
		return headersTooLargeProblem
	case status == "505 HTTP Version Not Supported: unsupported protocol version":
		return versionProblem
	case status == "400 Bad Request":
		return malformedProblem
	case hasReason:
		return builtinProblem(http.StatusBadRequest, "invalid-input", "the request is malformed ("+reason+"); nothing was added")
	}
	return nil
}

// builtinProblem returns a whole response, closing the connection, whose
// body is the problem of status, the way writeProblem writes it, with the
// outcome "not-added": net/http refused the request before any handler.
func builtinProblem(status int, name, detail string) []byte {
	body, _ := json.Marshal(newProblem(status, name, notAdded, detail))
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

// Write replaces one of net/http's own answers and passes anything else
// on. It reports len(p) written when the replacement was written whole.
func (c conn) Write(p []byte) (int, error) {
	if r := replacement(p); r != nil {
		if _, err := c.Conn.Write(r); err != nil {
			return 0, err
		}
		return len(p), nil
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
