package server_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/idemsum/idemsum/internal/apicheck"
	"github.com/idemsum/idemsum/server"
)

// TestListenerBuiltinAnswers sends raw requests net/http answers by itself,
// before any handler, and checks that each answer became a problem with
// the outcome "not-added" that the OpenAPI description lists: its 400s
// stay 400s and its 431 a 431, its 501 and 505 become 400s (bad input never
// gets a 5xx); either way the server hangs up.
func TestListenerBuiltinAnswers(t *testing.T) {
	t.Parallel()
	const post = "POST /sum HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
	const get = "GET /sum HTTP/1.1\r\n"
	const body = "c\r\n{\"number\":5}\r\n0\r\n\r\n"
	tests := []struct {
		name    string
		raw     string
		status  int
		problem string // the problem type's last part
		detail  string // what the detail must contain
	}{
		{"gzip, chunked", post + "Transfer-Encoding: gzip, chunked\r\n\r\n" + body, http.StatusBadRequest, "invalid-input", "Transfer-Encoding"},
		{"gzip", post + "Transfer-Encoding: gzip\r\n\r\n" + body, http.StatusBadRequest, "invalid-input", "Transfer-Encoding"},
		{"identity", post + "Transfer-Encoding: identity\r\nContent-Length: 12\r\n\r\n{\"number\":5}", http.StatusBadRequest, "invalid-input", "Transfer-Encoding"},
		{"two chunked fields", post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n" + body, http.StatusBadRequest, "invalid-input", "Transfer-Encoding"},
		{"HTTP/2.0 request line", "GET /sum HTTP/2.0\r\nHost: x\r\n\r\n", http.StatusBadRequest, "invalid-input", "HTTP version"},
		{"HTTP/3.0 request line", "GET /sum HTTP/3.0\r\nHost: x\r\n\r\n", http.StatusBadRequest, "invalid-input", "HTTP version"},
		{"HTTP/0.9 request line", "GET /sum HTTP/0.9\r\n\r\n", http.StatusBadRequest, "invalid-input", "HTTP version"},

		{"header over MaxHeaderBytes", get + "Host: x\r\nX-Pad: " + strings.Repeat("p", 8<<10) + "\r\n\r\n", http.StatusRequestHeaderFieldsTooLarge, "headers-too-large", "header"},
		{"malformed header line", get + "Host: x\r\nno colon here\r\n\r\n", http.StatusBadRequest, "invalid-input", "malformed"},
		{"header value with NUL", get + "Host: x\r\nX-A: a\x00b\r\n\r\n", http.StatusBadRequest, "invalid-input", "malformed"},
		{"invalid header name", get + "Host: x\r\nBad Name: v\r\n\r\n", http.StatusBadRequest, "invalid-input", "invalid header name"},
		{"missing Host", get + "\r\n", http.StatusBadRequest, "invalid-input", "missing required Host header"},
		{"bad Host", get + "Host: a b\r\n\r\n", http.StatusBadRequest, "invalid-input", "malformed Host header"},
		{"two Hosts", get + "Host: x\r\nHost: y\r\n\r\n", http.StatusBadRequest, "invalid-input", "malformed"},
		{"two Content-Lengths", post + "Content-Length: 1\r\nContent-Length: 2\r\n\r\n{}", http.StatusBadRequest, "invalid-input", "malformed"},
		{"malformed request line", "GET /sum\r\nHost: x\r\n\r\n", http.StatusBadRequest, "invalid-input", "malformed"},
		{"space in the target", "GET /s um HTTP/1.1\r\nHost: x\r\n\r\n", http.StatusBadRequest, "invalid-input", "malformed"},
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
			p := assertBuiltinProblem(t, res, b, tc.problem)
			if !strings.Contains(p.Detail, tc.detail) {
				t.Errorf("detail: got %q, want it to contain %q", p.Detail, tc.detail)
			}
			method, _, _ := strings.Cut(tc.raw, " ")
			checkRawAPI(t, method, "/sum", res, b)
			assertHungUp(t, c, r)
			if adds, _ := l.seen(); len(adds) != 0 {
				t.Errorf("additions: got %v, want none", adds)
			}
		})
	}
}

// TestListenerPassesHandlersPlainErrors checks that a handler's own
// plain-text answers that look like net/http's (a 400 or 431 whose body
// repeats the status, with Connection: close) reach the client untouched.
func TestListenerPassesHandlersPlainErrors(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusBadRequest, http.StatusRequestHeaderFieldsTooLarge} {
		text := strconv.Itoa(status) + " " + http.StatusText(status)
		for _, noDate := range []bool{false, true} {
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if noDate {
					w.Header()["Date"] = nil
				}
				w.Header().Set("Connection", "close")
				http.Error(w, text, status)
			})
			c, r := dialRaw(t, startListener(t, h))
			send(t, c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			res, err := http.ReadResponse(r, nil)
			if err != nil {
				t.Fatalf("read response: %v", err)
			}
			b, _ := io.ReadAll(res.Body)
			if res.StatusCode != status || string(b) != text+"\n" || res.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
				t.Errorf("status %d, no Date %v: got %d %q %q, want the handler's %d %q", status, noDate, res.StatusCode, res.Header.Get("Content-Type"), b, status, text+"\n")
			}
		}
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
// several Writes, some of which begin with net/http's status lines or even
// a whole answer of its own followed by more, reaches the client byte for
// byte, twice on one connection.
func TestListenerPassesResponseParts(t *testing.T) {
	t.Parallel()
	const plain = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
	parts := []string{
		"first part;",
		"HTTP/1.1 501 Not Implemented\r\nContent-Type: text/plain; charset=utf-8\r\nbut inside a body",
		"HTTP/1.1 505 HTTP Version Not Supported\r\n",
		strings.Repeat("b", 16<<10) + "HTTP/1.1 501 Not Implemented\r\n",
		"HTTP/1.1 400 Bad Request" + plain + "400 Bad Request, and more",
		"HTTP/1.1 400 Bad Request: malformed Host header" + plain + "400 Bad Request: malformed Host header.",
		"HTTP/1.1 431 Request Header Fields Too Large" + plain + "431 Request Header Fields Too Large" + strings.Repeat("b", 600),
		"HTTP/1.1 501 Not Implemented" + plain + "Unsupported transfer encoding ",
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

// assertBuiltinProblem checks that res with body b is a problem of type
// urn:idemsum:problem:<name> with the outcome "not-added" that closes the
// connection, and returns it.
func assertBuiltinProblem(tb testing.TB, res *http.Response, b []byte, name string) builtinProblem {
	tb.Helper()
	if got := res.Header.Get("Content-Type"); got != "application/problem+json" {
		tb.Errorf("Content-Type: got %q, want %q", got, "application/problem+json")
	}
	if !res.Close {
		tb.Errorf("Connection: got %q, want %q", res.Header.Get("Connection"), "close")
	}
	var p builtinProblem
	if err := json.Unmarshal(b, &p); err != nil {
		tb.Fatalf("problem body %q: got error %v, want JSON", b, err)
	}
	if p.Type != "urn:idemsum:problem:"+name || p.Title != http.StatusText(res.StatusCode) || p.Status != res.StatusCode || p.Detail == "" || p.Outcome != "not-added" {
		tb.Errorf("problem: got %+v, want %s, %q, %d, a detail and the outcome not-added", p, name, http.StatusText(res.StatusCode), res.StatusCode)
	}
	return p
}

type builtinProblem struct {
	Type, Title, Detail, Outcome string
	Status                       int
}

// checkRawAPI checks a response read off a raw connection against the
// OpenAPI description, as checkAPI does for the recorded ones.
func checkRawAPI(tb testing.TB, method, target string, res *http.Response, b []byte) {
	tb.Helper()
	c, err := api()
	if err != nil {
		tb.Fatalf("OpenAPI description: %v", err)
	}
	err = c.Check(apicheck.Exchange{Method: method, URL: &url.URL{Path: target}, Header: http.Header{},
		Status: res.StatusCode, RHeader: res.Header, RBody: b})
	if err != nil {
		tb.Errorf("OpenAPI: %v", err)
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
