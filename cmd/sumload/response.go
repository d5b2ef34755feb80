package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// response is what sumload reads of an HTTP/1.1 response: its status, the
// Idempotent-Replayed header and its body, framed by Content-Length or by
// the end of the connection. A chunked response is an error.
type response struct {
	status   int
	replayed bool
	body     []byte // overwritten by the next read
	length   int    // Content-Length, or -1
	keep     bool   // the connection can carry another request
}

const maxBody = 1 << 20

var errChunked = errors.New("chunked response: sumload reads only responses with a Content-Length")

// read reads one response from br; after an error the connection is
// unusable.
func (r *response) read(br *bufio.Reader) error {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return fmt.Errorf("status line: %w", err)
	}
	if r.status, r.keep, err = parseStatusLine(line); err != nil {
		return err
	}
	r.replayed, r.length = false, -1
	if err := r.readHeader(br); err != nil {
		return err
	}
	return r.readBody(br)
}

// parseStatusLine parses "HTTP/1.x NNN reason\r\n"; keep is true for
// HTTP/1.1, whose connections persist by default.
func parseStatusLine(line []byte) (status int, keep bool, err error) {
	ok := len(line) >= 13 && bytes.HasPrefix(line, []byte("HTTP/1.")) && line[8] == ' ' &&
		(line[12] == ' ' || line[12] == '\r' || line[12] == '\n')
	for i := 9; ok && i < 12; i++ {
		ok = line[i] >= '0' && line[i] <= '9'
		status = status*10 + int(line[i]-'0')
	}
	if !ok {
		return 0, false, fmt.Errorf("malformed status line %.40q", line)
	}
	return status, line[7] == '1', nil
}

func (r *response) readHeader(br *bufio.Reader) error {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("response header: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			return nil
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return fmt.Errorf("malformed header line %.40q", line)
		}
		if err := r.header(name, bytes.Trim(value, " \t")); err != nil {
			return err
		}
	}
}

// header takes in one header field, if it is one sumload needs.
func (r *response) header(name, value []byte) error {
	switch {
	case bytes.EqualFold(name, []byte("Content-Length")):
		n, ok := parseLength(value)
		if !ok || (r.length >= 0 && n != r.length) {
			return fmt.Errorf("bad Content-Length %.20q", value)
		}
		r.length = n
	case bytes.EqualFold(name, []byte("Idempotent-Replayed")):
		r.replayed = string(value) == "true"
	case bytes.EqualFold(name, []byte("Connection")):
		r.keep = r.keep && !hasToken(value, "close")
	case bytes.EqualFold(name, []byte("Transfer-Encoding")):
		return errChunked
	}
	return nil
}

// readBody reads the body: Content-Length bytes, nothing when the status
// has no body, or else everything up to the end of the connection.
func (r *response) readBody(br *bufio.Reader) error {
	switch {
	case r.status < 200 || r.status == 204 || r.status == 304:
		r.body = r.body[:0]
		return nil
	case r.length < 0:
		r.keep = false
		var err error
		r.body, err = io.ReadAll(io.LimitReader(br, maxBody+1))
		if err == nil && len(r.body) > maxBody {
			err = fmt.Errorf("response body over %d bytes", maxBody)
		}
		return err
	}
	r.body = append(r.body[:0], make([]byte, r.length)...)
	_, err := io.ReadFull(br, r.body)
	return err
}

// parseLength parses a Content-Length of at most maxBody.
func parseLength(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' || n > maxBody {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(b) > 0 && n <= maxBody
}

// hasToken reports whether the comma-separated list v holds tok, in any case.
func hasToken(v []byte, tok string) bool {
	for len(v) > 0 {
		var t []byte
		t, v, _ = bytes.Cut(v, []byte(","))
		if bytes.EqualFold(bytes.Trim(t, " \t"), []byte(tok)) {
			return true
		}
	}
	return false
}
