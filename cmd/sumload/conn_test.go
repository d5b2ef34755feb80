package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

const okJSON = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{\"total\":1}\n"

// testConn returns a connection to url, closed at the end of the test.
func testConn(tb testing.TB, ctx context.Context, url string) (*conn, *target) {
	tb.Helper()
	t, err := parseTarget(url, "")
	if err != nil {
		tb.Fatal(err)
	}
	c := newConn(ctx, t)
	tb.Cleanup(c.close)
	return c, t
}

func soon() time.Time { return time.Now().Add(5 * time.Second) }

// TestConn scripts the server's answers byte for byte and checks what the
// client makes of each, and that it reconnects exactly when it must.
func TestConn(t *testing.T) {
	t.Parallel()
	type answer struct {
		raw    string
		hangup bool
	}
	type want struct {
		status   int
		replayed bool
		body     string
		err      string // in the error, if one is wanted
	}
	problem := `{"type":"urn:idemsum:problem:key-reused","status":422}`
	tests := []struct {
		name    string
		answers []answer // to the 1st, 2nd, ... request; then okJSON
		want    []want
		dials   int
	}{
		{"keep-alive", nil, []want{{200, false, "{\"total\":1}\n", ""}, {200, false, "{\"total\":1}\n", ""}, {200, false, "{\"total\":1}\n", ""}}, 1},
		{"Connection: close", []answer{{"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}", true}}, []want{{200, false, "{}", ""}, {status: 200, body: "{\"total\":1}\n"}}, 2},
		{"connection: Keep-Alive, Close", []answer{{"HTTP/1.1 200 OK\r\nconnection: Keep-Alive, Close\r\ncontent-length: 2\r\n\r\n{}", false}}, []want{{200, false, "{}", ""}, {status: 200, body: "{\"total\":1}\n"}}, 2},
		{"hang-up mid-body", []answer{{"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n{\"to", true}}, []want{{err: "unexpected EOF"}, {status: 200, body: "{\"total\":1}\n"}}, 2},
		{"hang-up mid-header", []answer{{"HTTP/1.1 200 OK\r\nContent-Le", true}}, []want{{err: "response header: EOF"}, {status: 200, body: "{\"total\":1}\n"}}, 2},
		{"hang-up before answering", []answer{{"", true}}, []want{{err: "status line: EOF"}, {status: 200, body: "{\"total\":1}\n"}}, 2},
		{"problem", []answer{{"HTTP/1.1 422 Unprocessable Entity\r\nContent-Type: application/problem+json\r\nContent-Length: " + strconv.Itoa(len(problem)) + "\r\n\r\n" + problem, false}}, []want{{status: 422, body: problem}, {status: 200, body: "{\"total\":1}\n"}}, 1},
		{"503 without body", []answer{{"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n", false}}, []want{{status: 503}, {status: 200, body: "{\"total\":1}\n"}}, 1},
		{"replayed", []answer{{"HTTP/1.1 200 OK\r\nidempotent-replayed: true\r\nContent-Length: 2\r\n\r\n{}", false}}, []want{{200, true, "{}", ""}, {status: 200, body: "{\"total\":1}\n"}}, 1},
		{"204", []answer{{"HTTP/1.1 204 No Content\r\n\r\n", false}}, []want{{status: 204}, {status: 200, body: "{\"total\":1}\n"}}, 1},
		{"body to the end of the connection", []answer{{"HTTP/1.1 200 OK\r\n\r\n{\"total\":2}", true}}, []want{{status: 200, body: `{"total":2}`}, {status: 200, body: "{\"total\":1}\n"}}, 2},
		{"HTTP/1.0", []answer{{"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}", false}}, []want{{status: 200, body: "{}"}, {status: 200, body: "{\"total\":1}\n"}}, 2},
		{"chunked", []answer{{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", false}}, []want{{err: "chunked response"}, {status: 200, body: "{\"total\":1}\n"}}, 2},
		{"malformed status line", []answer{{"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n", false}}, []want{{err: "malformed status line"}, {status: 200, body: "{\"total\":1}\n"}}, 2},
		{"not HTTP", []answer{{"SSH-2.0-OpenSSH\r\n", false}}, []want{{err: "malformed status line"}}, 1},
		{"bad Content-Length", []answer{{"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", false}}, []want{{err: "bad Content-Length"}}, 1},
		{"two Content-Lengths", []answer{{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", false}}, []want{{err: "bad Content-Length"}}, 1},
		{"huge body", []answer{{"HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n", false}}, []want{{err: "bad Content-Length"}}, 1},
		{"header without colon", []answer{{"HTTP/1.1 200 OK\r\nbogus\r\n\r\n", false}}, []want{{err: "malformed header line"}}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newRawServer(t, func(n int, _ []byte) (string, bool) {
				if n <= len(tt.answers) {
					return tt.answers[n-1].raw, tt.answers[n-1].hangup
				}
				return okJSON, false
			})
			c, tg := testConn(t, context.Background(), s.url)
			for i, w := range tt.want {
				r, err := c.do(tg.appendAdd(nil, "k-", keyed{id: int64(i + 1), number: 5}), soon())
				if w.err != "" {
					if err == nil || !strings.Contains(err.Error(), w.err) {
						t.Errorf("request %d: got error %v, want one containing %q", i+1, err, w.err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("request %d: got error %v, want status %d", i+1, err, w.status)
				}
				if r.status != w.status || r.replayed != w.replayed || string(r.body) != w.body {
					t.Errorf("request %d: got %d replayed=%v %q, want %d replayed=%v %q", i+1, r.status, r.replayed, r.body, w.status, w.replayed, w.body)
				}
			}
			if got := int(s.dials.Load()); got != tt.dials {
				t.Errorf("connections: got %d, want %d", got, tt.dials)
			}
		})
	}
}

// TestConnRequest checks the bytes of the requests.
func TestConnRequest(t *testing.T) {
	t.Parallel()
	got := make(chan string, 3)
	s := newRawServer(t, func(_ int, req []byte) (string, bool) {
		got <- string(req)
		return okJSON, false
	})
	c, tg := testConn(t, context.Background(), s.url+"/base/")
	host := strings.TrimPrefix(s.url, "http://")
	for _, tt := range []struct {
		req  []byte
		want string
	}{
		{tg.appendAdd(nil, "k-", keyed{id: 7, number: 123}), "POST /base/sum HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: sumload\r\nContent-Type: application/json\r\nIdempotency-Key: k-7\r\nContent-Length: 14\r\n\r\n{\"number\":123}"},
		{tg.appendAdd(nil, "k-", keyed{number: 9223372036854775807}), "POST /base/sum HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: sumload\r\nContent-Type: application/json\r\nContent-Length: 30\r\n\r\n{\"number\":9223372036854775807}"},
		{[]byte(tg.get), "GET /base/sum HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: sumload\r\n\r\n"},
	} {
		if _, err := c.do(tt.req, soon()); err != nil {
			t.Fatal(err)
		}
		if g := <-got; g != tt.want {
			t.Errorf("request:\ngot  %q\nwant %q", g, tt.want)
		}
	}
}

// TestConnGivesUp checks that a request stops at its deadline, or at
// once when the context ends, and that the connection is usable after.
func TestConnGivesUp(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		deadline time.Duration
		cancel   time.Duration // when to cancel the context; 0: never
		want     error
	}{
		{"deadline", 100 * time.Millisecond, 0, os.ErrDeadlineExceeded},
		{"interrupted while waiting", time.Minute, 50 * time.Millisecond, context.Canceled},
		{"interrupted before", time.Minute, -1, context.Canceled},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newRawServer(t, func(n int, _ []byte) (string, bool) {
				if n == 1 {
					return "", false // the first request is never answered
				}
				return okJSON, false
			})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			c, tg := testConn(t, ctx, s.url)
			switch {
			case tt.cancel < 0:
				cancel()
			case tt.cancel > 0:
				time.AfterFunc(tt.cancel, cancel)
			}
			start := time.Now()
			_, err := c.do([]byte(tg.get), start.Add(tt.deadline))
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("do took %v", el)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("do: got error %v, want %v", err, tt.want)
			}
			if tt.cancel != 0 {
				return
			}
			if r, err := c.do([]byte(tg.get), soon()); err != nil || r.status != 200 {
				t.Errorf("next request: got %v, %v; want a 200", r, err)
			}
		})
	}
}

// TestConnTLS checks that https:// URLs work over the same client.
func TestConnTLS(t *testing.T) {
	t.Parallel()
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"total":42}`))
	}))
	t.Cleanup(ts.Close)
	c, tg := testConn(t, context.Background(), ts.URL)
	tg.tls.RootCAs = ts.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	for range 2 {
		r, err := c.do([]byte(tg.get), soon())
		if err != nil || r.status != 200 || string(r.body) != `{"total":42}` {
			t.Fatalf("GET over TLS: got %+v, %v; want 200 {\"total\":42}", r, err)
		}
	}
}
