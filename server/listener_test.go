package server_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"idemsum/server"
)

// TestListenerBuiltinAnswers sends raw requests net/http answers by itself,
// before any handler, and checks that its 5xx ones became 400 problems
// while its 4xx ones are left alone; either way the server hangs up.
func TestListenerBuiltinAnswers(t *testing.T) {
	t.Parallel()
	const post = "POST /sum HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
	const body = "c\r\n{\"number\":5}\r\n0\r\n\r\n"
	tests := []struct {
		name    string
		raw     string
		status  int
		problem bool // an invalid-input problem, else net/http's plain text
	}{
		{"gzip, chunked", post + "Transfer-Encoding: gzip, chunked\r\n\r\n" + body, http.StatusBadRequest, true},
		{"gzip", post + "Transfer-Encoding: gzip\r\n\r\n" + body, http.StatusBadRequest, true},
		{"identity", post + "Transfer-Encoding: identity\r\nContent-Length: 12\r\n\r\n{\"number\":5}", http.StatusBadRequest, true},
		{"two chunked fields", post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n" + body, http.StatusBadRequest, true},
		{"HTTP/2.0 request line", "GET /sum HTTP/2.0\r\nHost: x\r\n\r\n", http.StatusBadRequest, true},
		{"HTTP/3.0 request line", "GET /sum HTTP/3.0\r\nHost: x\r\n\r\n", http.StatusBadRequest, true},
		{"HTTP/0.9 request line", "GET /sum HTTP/0.9\r\n\r\n", http.StatusBadRequest, true},

		{"header over MaxHeaderBytes", "GET /sum HTTP/1.1\r\nHost: x\r\nX-Pad: " + strings.Repeat("p", 8<<10) + "\r\n\r\n", http.StatusRequestHeaderFieldsTooLarge, false},
		{"malformed header line", "GET /sum HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", http.StatusBadRequest, false},
		{"missing Host", "GET /sum HTTP/1.1\r\n\r\n", http.StatusBadRequest, false},
		{"malformed request line", "GET /sum\r\nHost: x\r\n\r\n", http.StatusBadRequest, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newLedger()
			c, r := dialRaw(t, startListener(t, server.NewServer(deps(l, newStore()))))
			send(t, c, tc.raw)
			res, err := http.ReadResponse(r, nil)
			if err != nil {
				t.Fatalf("read response: got error %v, want one", err)
			}
			b, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatalf("read body: %v", err)
			}
			if res.StatusCode != tc.status {
				t.Errorf("status: got %d, want %d (body %q)", res.StatusCode, tc.status, b)
			}
			if tc.problem {
				assertInvalidInput(t, res, b)
			} else if got := res.Header.Get("Content-Type"); got != "text/plain; charset=utf-8" {
				t.Errorf("Content-Type: got %q, want net/http's %q", got, "text/plain; charset=utf-8")
			}
			assertHungUp(t, c, r)
			if adds, _ := l.seen(); len(adds) != 0 {
				t.Errorf("additions: got %v, want none", adds)
			}
		})
	}
}

// TestListenerKeepAlive checks that ordinary requests on one wrapped
// connection are served as usual, a chunked body included.
func TestListenerKeepAlive(t *testing.T) {
	t.Parallel()
	c, r := dialRaw(t, startListener(t, server.NewServer(deps(newLedger(), newStore()))))
	requests := []string{
		"POST /sum HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nc\r\n{\"number\":5}\r\n0\r\n\r\n",
		"POST /sum?number=7 HTTP/1.1\r\nHost: x\r\nIdempotency-Key: k\r\n\r\n",
		"GET /sum HTTP/1.1\r\nHost: x\r\n\r\n",
	}
	want := []string{`{"total":5}`, `{"total":12}`, `{"total":12}`}
	for i, raw := range requests {
		send(t, c, raw)
		res, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatalf("request %d: read response: %v", i, err)
		}
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK || strings.TrimSpace(string(b)) != want[i] {
			t.Errorf("request %d: got %d %q, want 200 %q", i, res.StatusCode, b, want[i])
		}
		if res.Close {
			t.Errorf("request %d: got Connection: close, want keep-alive", i)
		}
	}
}

// TestListenerPassesResponseParts checks that a handler's response sent in
// several Writes, some of which begin with net/http's 501 or 505 status
// line, reaches the client byte for byte, twice on one connection.
func TestListenerPassesResponseParts(t *testing.T) {
	t.Parallel()
	parts := []string{
		"first part;",
		"HTTP/1.1 501 Not Implemented\r\nContent-Type: text/plain; charset=utf-8\r\nbut inside a body",
		"HTTP/1.1 505 HTTP Version Not Supported\r\n",
		strings.Repeat("b", 16<<10) + "HTTP/1.1 501 Not Implemented\r\n",
	}
	whole := strings.Join(parts, "")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(whole)))
		for _, p := range parts {
			io.WriteString(w, p)
			w.(http.Flusher).Flush()
		}
	})
	c, r := dialRaw(t, startListener(t, h))
	for i := range 2 {
		send(t, c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		res, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK || string(b) != whole {
			t.Errorf("response %d: got %d and a body of %d bytes that differs from the one written, want 200 and the %d bytes written", i, res.StatusCode, len(b), len(whole))
		}
	}
}

// startListener serves h over Listener on a fresh loopback port and
// returns its address.
func startListener(tb testing.TB, h http.Handler) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	srv := &http.Server{Handler: h, MaxHeaderBytes: 1 << 10, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(server.Listener(ln))
	}()
	tb.Cleanup(func() {
		srv.Close()
		<-done
	})
	return ln.Addr().String()
}

// dialRaw connects to addr with a deadline on every read and write.
func dialRaw(tb testing.TB, addr string) (net.Conn, *bufio.Reader) {
	tb.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatalf("dial: %v", err)
	}
	tb.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c, bufio.NewReader(c)
}

func send(tb testing.TB, c net.Conn, raw string) {
	tb.Helper()
	if _, err := io.WriteString(c, raw); err != nil {
		tb.Fatalf("write request: %v", err)
	}
}

// assertInvalidInput checks that res with body b is the 400
// invalid-input problem that closes the connection.
func assertInvalidInput(tb testing.TB, res *http.Response, b []byte) {
	tb.Helper()
	if got := res.Header.Get("Content-Type"); got != "application/problem+json" {
		tb.Errorf("Content-Type: got %q, want %q", got, "application/problem+json")
	}
	if !res.Close {
		tb.Errorf("Connection: got %q, want %q", res.Header.Get("Connection"), "close")
	}
	var p struct {
		Type, Title, Detail string
		Status              int
	}
	if err := json.Unmarshal(b, &p); err != nil {
		tb.Fatalf("problem body %q: got error %v, want JSON", b, err)
	}
	if p.Type != "urn:idemsum:problem:invalid-input" || p.Title != "Bad Request" || p.Status != 400 || p.Detail == "" {
		tb.Errorf("problem: got %+v, want invalid-input, Bad Request, 400 and a detail", p)
	}
}

// assertHungUp checks that the server closes c after its answer: the next
// read ends, within c's deadline, with EOF or a reset and no more bytes.
func assertHungUp(tb testing.TB, c net.Conn, r *bufio.Reader) {
	tb.Helper()
	b, err := io.ReadAll(r)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		tb.Errorf("connection: still open at the deadline, want closed by the server")
	}
	if len(b) != 0 {
		tb.Errorf("after the answer: got %q, want nothing", b)
	}
}
