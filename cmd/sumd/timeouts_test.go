package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestServerTimeouts checks that the -read-header-timeout, -read-timeout
// and -idle-timeout flags reach the HTTP server: a client too slow with its
// headers or body, or idle too long, loses its connection after the
// configured time, not after the defaults (5s, 10s, 60s).
func TestServerTimeouts(t *testing.T) {
	t.Parallel()
	in := start(t, "-read-header-timeout", "300ms", "-read-timeout", "600ms", "-idle-timeout", "400ms")
	addr := strings.TrimPrefix(in.URL, "http://")
	const bound = 3 * time.Second // well under every default

	cases := []struct {
		name    string
		send    string // the client sends this, then nothing more
		keep    bool   // a full request: read its response before waiting
		status  int    // the server's answer at the timeout, if any
		atLeast time.Duration
	}{
		{name: "headers never end", send: "GET /healthz HTTP/1.1\r\nHost: x\r\n", atLeast: 300 * time.Millisecond},
		{name: "body never ends", send: "POST /sum HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{\"number\":", status: http.StatusRequestTimeout, atLeast: 600 * time.Millisecond},
		{name: "idle keep-alive", send: "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", keep: true, atLeast: 400 * time.Millisecond},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if err := conn.SetDeadline(time.Now().Add(bound)); err != nil {
				t.Fatal(err)
			}
			t0 := time.Now()
			if _, err := io.WriteString(conn, c.send); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(conn)
			if c.keep {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("first response: %v", err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || resp.Close {
					t.Fatalf("first response: %d, close %v; want a kept-alive 200", resp.StatusCode, resp.Close)
				}
				t0 = time.Now()
			}
			if c.status != 0 {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("want a %d answer: %v", c.status, err)
				}
				resp.Body.Close()
				if resp.StatusCode != c.status || resp.Header.Get("Content-Type") != "application/problem+json" {
					t.Errorf("got %d %q, want a %d problem", resp.StatusCode, resp.Header.Get("Content-Type"), c.status)
				}
			}
			// Then the server closes the connection.
			_, err = io.Copy(io.Discard, br)
			took := time.Since(t0)
			if err != nil {
				t.Fatalf("connection still open after %v (%v), want it closed by the server within %v", took.Round(time.Millisecond), err, bound)
			}
			if took < c.atLeast*9/10 {
				t.Errorf("closed after %v, want no sooner than the configured %v", took.Round(time.Millisecond), c.atLeast)
			}
			t.Logf("closed by the server after %v", took.Round(time.Millisecond))
		})
	}
}
