package main

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// answerFunc gives the raw bytes that answer the nth request (counted from
// 1 over all connections), req being its head and body (valid during the
// call only); with hangup the server then closes the connection. An empty
// answer without hangup leaves the request unanswered.
type answerFunc func(n int, req []byte) (raw string, hangup bool)

// rawServer speaks just enough HTTP/1.1 to script what the lean client
// must cope with, byte for byte, and allocates nothing per request.
type rawServer struct {
	url    string
	dials  atomic.Int64 // connections accepted
	served atomic.Int64 // requests read
	answer answerFunc
	mu     sync.Mutex
	conns  []net.Conn
}

func newRawServer(tb testing.TB, answer answerFunc) *rawServer {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := &rawServer{url: "http://" + ln.Addr().String(), answer: answer}
	tb.Cleanup(func() { ln.Close(); s.closeAll() })
	go s.accept(ln)
	return s
}

func (s *rawServer) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		s.dials.Add(1)
		go s.serve(c)
	}
}

func (s *rawServer) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
}

func (s *rawServer) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	var req, out []byte
	last := ""
	for {
		var err error
		if req, err = readRequest(br, req[:0]); err != nil {
			return
		}
		raw, hangup := s.answer(int(s.served.Add(1)), req)
		if raw != last { // convert once, so that a fixed answer allocates nothing
			last, out = raw, []byte(raw)
		}
		if _, err := c.Write(out); err != nil || hangup {
			return
		}
	}
}

// readRequest appends a request's head and Content-Length body to buf.
func readRequest(br *bufio.Reader, buf []byte) ([]byte, error) {
	n := 0
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return buf, err
		}
		buf = append(buf, line...)
		name, value, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(":"))
		if bytes.EqualFold(name, []byte("Content-Length")) {
			n, _ = parseLength(bytes.TrimSpace(value))
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			break
		}
	}
	buf = append(buf, make([]byte, n)...)
	_, err := io.ReadFull(br, buf[len(buf)-n:])
	return buf, err
}
