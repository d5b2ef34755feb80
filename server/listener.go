package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
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
// those is replaced. Every other Write, including any part of a normal
// response, passes through byte for byte: net/http sorts a response's
// header fields (Connection before Content-Type) and adds Date, so no
// response header block it writes for a handler has that form.
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
)

// replacement returns the response that replaces p when p is, whole, one
// of net/http's own error answers, else nil.
func replacement(p []byte) []byte {
	if len(p) > maxBuiltin {
		return nil
	}
	head, body, ok := bytes.Cut(p, []byte(builtinHeaders))
	line, isResponse := bytes.CutPrefix(head, []byte("HTTP/1.1 "))
	if !ok || !isResponse || bytes.ContainsAny(line, "\r\n") {
		return nil
	}
	const badRequest = "400 Bad Request"
	switch s := string(line); {
	case s == "501 Not Implemented" && string(body) == "Unsupported transfer encoding":
		return transferEncodingProblem
	case s != string(body): // the others repeat their status line as the body
		return nil
	case s == "431 Request Header Fields Too Large":
		return headersTooLargeProblem
	case s == "505 HTTP Version Not Supported: unsupported protocol version":
		return versionProblem
	case s == badRequest:
		return builtinProblem(http.StatusBadRequest, "invalid-input",
			"the request is malformed (its request line or a header line); nothing was added")
	case len(s) > len(badRequest+": ") && s[:len(badRequest+": ")] == badRequest+": ":
		return builtinProblem(http.StatusBadRequest, "invalid-input",
			"the request is malformed ("+s[len(badRequest+": "):]+"); nothing was added")
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
