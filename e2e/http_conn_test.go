package e2e_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idemsum/idemsum/e2e/harness"
)

// The limits of sumd's http.Server at its default flags (cmd/sumd): the
// slow-client cases check the defaults a user gets, so they take as long
// as the timeouts. cmd/sumd's TestServerTimeouts checks that the flags
// change them.
const (
	maxHeaderBytes    = 16 << 10
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	// headerSlop is what net/http reads beyond MaxHeaderBytes before it
	// refuses the request (its "bufio slop"): a request line and headers
	// of up to 20 KiB are read, anything over is 431.
	headerSlop = 4 << 10
	// hangUpSlack is how long after a timeout the slow-client cases wait
	// for the server to hang up before they call the connection still
	// open. It is not a latency bound: a server without the timeout keeps
	// such a client for as long as it trickles (a minute), so any slack
	// well under that tells the two apart, and a generous one holds on a
	// loaded machine.
	hangUpSlack = 20 * time.Second
)

// TestHostileConnections attacks one instance at the connection level,
// all at once: headers and URLs over the limit, clients that send their
// headers or body a byte at a time (slower than the server's timeouts)
// and clients that never read their responses. Meanwhile a prober keeps
// adding and reading on the same instance: the server must stay
// responsive, refuse each hostile request without a 5xx or a crash, and
// add nothing for any request it refused.
func TestHostileConnections(t *testing.T) {
	t.Parallel()
	c := harness.StartCluster(t, harness.Options{Instances: 1})
	in := c.Instances[0]
	initial := harness.GetTotal(t, in)
	res := harness.NewResults()
	p := startProber(t, c, res)
	var seq atomic.Int64
	key := func(tag string) harness.Key {
		return harness.Key{Name: fmt.Sprintf("e2e-conn-%s-%s-%d", tag, c.Prefix[len("idemsum:e2e:"):len(c.Prefix)-1], seq.Add(1)), Number: 5}
	}
	attacks := map[string]func(t *testing.T){
		"header over the limit": func(t *testing.T) { checkHeaderLimit(t, in, res, key) },
		"URL over the limit":    func(t *testing.T) { checkLongURL(t, in, key) },
		"headers byte by byte":  func(t *testing.T) { checkSlowHeaders(t, in, res, key) },
		"body byte by byte":     func(t *testing.T) { checkSlowBody(t, in, res, key) },
		"response never read":   func(t *testing.T) { checkNeverRead(t, in, res, key("unread")) },
	}
	// All at once, and not as parallel subtests: those would wait for
	// the -parallel slots the other tests hold.
	var wg sync.WaitGroup
	for name, attack := range attacks {
		wg.Go(func() { t.Run(name, attack) })
	}
	wg.Wait()
	p.stop(t)
	harness.CheckAll(t, c, res, initial)
}

// prober adds a fresh key and reads /healthz every 100ms until stopped;
// every answer must be a 200 within harness.Client's timeout (10 s: only
// a server that stopped serving fails a probe, not a slow machine).
type prober struct {
	done    chan struct{}
	wg      sync.WaitGroup
	n       atomic.Int64
	slowest atomic.Int64 // nanoseconds
	errs    chan string
}

func startProber(t testing.TB, c *harness.Cluster, res *harness.Results) *prober {
	p := &prober{done: make(chan struct{}), errs: make(chan string, 100)}
	client := harness.Client
	in := c.Instances[0]
	p.wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-p.done:
				return
			case <-time.After(100 * time.Millisecond): // the pace of the probes
			}
			t0 := time.Now()
			k := harness.NewKeys("probe", 1)[0]
			resp, err := harness.SendOne(t.Context(), client, in, k)
			if err == nil && resp.Status == http.StatusOK && !resp.Replayed {
				res.Record(k, 0, resp)
				h, herr := client.Get(in.URL() + "/healthz")
				if err = herr; err == nil {
					h.Body.Close()
					resp = &harness.Response{Status: h.StatusCode}
				}
			}
			if err != nil || resp.Status != http.StatusOK {
				select {
				case p.errs <- fmt.Sprintf("probe %d at %v: %v %+v", i, t0.Format("15:04:05.000"), err, resp):
				default:
				}
				continue
			}
			p.n.Add(1)
			if d := int64(time.Since(t0)); d > p.slowest.Load() {
				p.slowest.Store(d)
			}
		}
	})
	return p
}

// stop ends the probes and fails t for each probe that failed.
func (p *prober) stop(t testing.TB) {
	t.Helper()
	close(p.done)
	p.wg.Wait()
	close(p.errs)
	for e := range p.errs {
		t.Errorf("the server did not stay responsive: %s", e)
	}
	t.Logf("%d probes (an addition and a /healthz each) answered meanwhile; the slowest took %v", p.n.Load(), time.Duration(p.slowest.Load()).Round(time.Millisecond))
	if p.n.Load() == 0 {
		t.Errorf("no probe was answered")
	}
}

// rawRequest returns a keyed POST /sum of k with a JSON body, as bytes,
// with extra header lines (each ending in \r\n) and the target's query.
func rawRequest(target string, k harness.Key, extra string) []byte {
	body := fmt.Sprintf(`{"number":%d}`, k.Number)
	return fmt.Appendf(nil, "POST %s HTTP/1.1\r\nHost: sumd\r\nIdempotency-Key: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s",
		target, k.Name, len(body), extra, body)
}

// dialRaw opens a connection to in for a client that speaks raw HTTP,
// failing after d. On error it reports to t (from any goroutine) and
// returns nil.
func dialRaw(t testing.TB, in *harness.Instance, d time.Duration) net.Conn {
	conn, err := net.Dial("tcp", strings.TrimPrefix(in.URL(), "http://"))
	if err != nil {
		t.Errorf("dial %s: %v", in.Name, err)
		return nil
	}
	conn.SetDeadline(time.Now().Add(d))
	return conn
}

// exchange sends req on a new connection to in while it reads the answer,
// as a client that keeps writing while the server answers, and returns
// the response with its body read, within d.
func exchange(t testing.TB, in *harness.Instance, req []byte, d time.Duration) (*harness.Response, error) {
	t.Helper()
	conn := dialRaw(t, in, d)
	if conn == nil {
		t.FailNow()
	}
	defer conn.Close()
	go conn.Write(req) // fails once the server hangs up: fine
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return &harness.Response{Status: resp.StatusCode, Header: resp.Header, Body: body}, err
}

// checkHeaderLimit sends keyed additions whose headers are over the limit
// (one huge header, many small ones): each must be refused with 431
// whatever its size, while one just under MaxHeaderBytes is served.
func checkHeaderLimit(t *testing.T, in *harness.Instance, res *harness.Results, key func(string) harness.Key) {
	over := maxHeaderBytes + headerSlop + 1<<10
	many := strings.Repeat(fmt.Sprintf("X-Pad: %s\r\n", strings.Repeat("p", 90)), over/100+1)
	cases := []struct {
		name  string
		extra string
	}{
		{"one header of 21 KiB", "X-Pad: " + strings.Repeat("p", over) + "\r\n"},
		{"one header of 1 MiB", "X-Pad: " + strings.Repeat("p", 1<<20) + "\r\n"},
		{fmt.Sprintf("%d headers of 100 bytes", over/100+1), many},
		{"the key header of 64 KiB", "Idempotency-Key: " + strings.Repeat("k", 64<<10) + "\r\n"},
	}
	for _, tc := range cases {
		resp, err := exchange(t, in, rawRequest("/sum", key("hdr"), tc.extra), 10*time.Second)
		if err != nil || resp.Status != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("%s: got %v %+v, want 431", tc.name, err, resp)
		}
	}
	k := key("hdrok")
	resp, err := exchange(t, in, rawRequest("/sum", k, "X-Pad: "+strings.Repeat("p", maxHeaderBytes-1<<10)+"\r\n"), 10*time.Second)
	if err != nil {
		t.Fatalf("a header of 15 KiB: %v", err)
	}
	harness.Want200(t, res, k, 0, "a keyed addition with a header of 15 KiB", resp, false)
}

// checkLongURL sends URLs over the header limit (431) and long ones under
// it (a problem, 400 or 404): nothing is added.
func checkLongURL(t *testing.T, in *harness.Instance, key func(string) harness.Key) {
	k := key("url")
	pad := func(n int) string { return strings.Repeat("a", n) }
	over := "/sum?key=" + k.Name + "&number=5&pad=" + pad(maxHeaderBytes+headerSlop)
	resp, err := exchange(t, in, rawRequest(over, k, ""), 10*time.Second)
	if err != nil || resp.Status != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("a URL of %d bytes: got %v %+v, want 431", len(over), err, resp)
	}
	resp, err = exchange(t, in, rawRequest("/sum?"+pad(1<<20), k, ""), 10*time.Second)
	if err != nil || resp.Status != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("a URL of 1 MiB: got %v %+v, want 431", err, resp)
	}
	for _, tc := range []struct {
		target string
		want   int
	}{
		{"/sum?key=" + k.Name + "&number=5&pad=" + pad(12<<10), http.StatusBadRequest},
		{"/sum?key=" + k.Name + pad(12<<10) + "&number=5", http.StatusBadRequest},
		{"/" + pad(12<<10) + "?key=" + k.Name + "&number=5", http.StatusNotFound},
	} {
		resp, err := exchange(t, in, rawRequest(tc.target, k, ""), 10*time.Second)
		if err != nil {
			t.Errorf("a URL of %d bytes: %v", len(tc.target), err)
			continue
		}
		harness.CheckProblem(t, fmt.Sprintf("a URL of %d bytes", len(tc.target)), resp, tc.want)
	}
}

// trickle writes b to conn one byte every pace, until all is written,
// the connection fails or stop is closed.
func trickle(conn net.Conn, b []byte, pace time.Duration, stop <-chan struct{}) {
	for i := range b {
		select {
		case <-stop:
			return
		case <-time.After(pace): // the pace of a slow client
		}
		if _, err := conn.Write(b[i : i+1]); err != nil {
			return
		}
	}
}

// checkSlowHeaders opens slowHeaderConns connections that send a keyed
// addition's headers a byte every 200ms, which would take a minute: the
// server must hang up on each once ReadHeaderTimeout has passed, not
// before, and before ReadTimeout, which would bound the headers too if
// ReadHeaderTimeout were not set (net/http first writes a plain "400 Bad
// Request"). That leaves a loaded machine ReadTimeout − ReadHeaderTimeout
// (5 s) to hang up. A client as slow whose headers end within the timeout
// is served.
func checkSlowHeaders(t *testing.T, in *harness.Instance, res *harness.Results, key func(string) harness.Key) {
	const slowHeaderConns = 20
	var wg sync.WaitGroup
	for range slowHeaderConns {
		wg.Go(func() {
			conn := dialRaw(t, in, readHeaderTimeout+hangUpSlack)
			if conn == nil {
				return
			}
			defer conn.Close()
			start := time.Now()
			stop := make(chan struct{})
			defer close(stop)
			go trickle(conn, rawRequest("/sum", key("slowhdr"), "X-Slow: "+strings.Repeat("s", 200)+"\r\n"), 200*time.Millisecond, stop)
			got, err := io.ReadAll(conn)
			took := time.Since(start)
			var ne net.Error
			switch {
			case len(got) > 0 && !bytes.HasPrefix(got, []byte("HTTP/1.1 400 ")):
				t.Errorf("slow headers: got %q after %v, want net/http's 400 or no answer, and the connection closed", got, took)
			case errors.As(err, &ne) && ne.Timeout():
				t.Errorf("slow headers: the connection was still open after %v, want it closed after ReadHeaderTimeout (%v)", took, readHeaderTimeout)
			case took < readHeaderTimeout-250*time.Millisecond || took >= readTimeout:
				t.Errorf("slow headers: the server hung up after %v (%v), want after ReadHeaderTimeout (%v) and before ReadTimeout (%v)", took, err, readHeaderTimeout, readTimeout)
			}
		})
	}
	k := key("slowhdrok")
	req := rawRequest("/sum", k, "")
	split := bytes.Index(req, []byte("\r\n\r\n"))
	conn := dialRaw(t, in, 10*time.Second)
	if conn == nil {
		t.FailNow()
	}
	defer conn.Close()
	// The last 24 bytes of the headers a byte every 100ms: 2.4s.
	conn.Write(req[:split-20])
	trickle(conn, req[split-20:split+4], 100*time.Millisecond, nil)
	conn.Write(req[split+4:])
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("headers slow but in time: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	harness.Want200(t, res, k, 0, "headers slow but in time", &harness.Response{Status: resp.StatusCode, Header: resp.Header, Body: body}, false)
	wg.Wait()
	t.Logf("%d connections sending their headers a byte every 200ms were each closed after ReadHeaderTimeout (%v)", slowHeaderConns, readHeaderTimeout)
}

// checkSlowBody sends keyed additions whose headers are complete and whose
// body of 200 bytes comes a byte every 300ms, which would take a minute:
// at ReadTimeout the server must answer a 408 problem (and add nothing) or
// hang up, not before, and within hangUpSlack after. One whose body ends
// in time is served.
func checkSlowBody(t *testing.T, in *harness.Instance, res *harness.Results, key func(string) harness.Key) {
	const slowBodyConns = 5
	var wg sync.WaitGroup
	for range slowBodyConns {
		wg.Go(func() {
			k := key("slowbody")
			body := fmt.Sprintf(`{"number":%d}`, k.Number) + strings.Repeat(" ", 188)
			head := fmt.Sprintf("POST /sum HTTP/1.1\r\nHost: sumd\r\nIdempotency-Key: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", k.Name, len(body))
			conn := dialRaw(t, in, readTimeout+hangUpSlack)
			if conn == nil {
				return
			}
			defer conn.Close()
			start := time.Now()
			conn.Write([]byte(head))
			stop := make(chan struct{})
			defer close(stop)
			go trickle(conn, []byte(body), 300*time.Millisecond, stop)
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			took := time.Since(start)
			var ne net.Error
			switch {
			case errors.As(err, &ne) && ne.Timeout():
				t.Errorf("slow body: no answer and the connection still open after %v, want an end at ReadTimeout (%v)", took, readTimeout)
			case took < readTimeout-250*time.Millisecond:
				t.Errorf("slow body: ended after %v (%v), want at ReadTimeout (%v)", took, err, readTimeout)
			case err == nil:
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				harness.CheckProblem(t, fmt.Sprintf("slow body, answered after %v", took.Round(time.Millisecond)), &harness.Response{Status: resp.StatusCode, Header: resp.Header, Body: b}, http.StatusRequestTimeout)
			}
		})
	}
	k := key("slowbodyok")
	req := rawRequest("/sum", k, "")
	split := bytes.Index(req, []byte("\r\n\r\n")) + 4
	conn := dialRaw(t, in, 10*time.Second)
	if conn == nil {
		t.FailNow()
	}
	defer conn.Close()
	conn.Write(req[:split])
	trickle(conn, req[split:], 100*time.Millisecond, nil) // ~15 bytes: 1.5s
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("body slow but in time: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	harness.Want200(t, res, k, 0, "body slow but in time", &harness.Response{Status: resp.StatusCode, Header: resp.Header, Body: body}, false)
	wg.Wait()
}

// checkNeverRead pipelines a keyed addition of k and then neverReadPages
// requests for the web page on one connection, whose client never reads:
// the server's writes block once the socket buffers are full, which the
// kernel's send queue shows. After a while the client hangs up. The addition was made once (a retry of k is
// a replay) and the server served the others all along (the prober).
func checkNeverRead(t *testing.T, in *harness.Instance, res *harness.Results, k harness.Key) {
	const neverReadPages = 3000 // × 3.6 KiB: far more than the socket buffers
	conn, err := net.Dial("tcp", strings.TrimPrefix(in.URL(), "http://"))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	conn.(*net.TCPConn).SetReadBuffer(4 << 10)
	sent := time.Now()
	var pipeline bytes.Buffer
	pipeline.Write(rawRequest("/sum", k, ""))
	for range neverReadPages {
		pipeline.WriteString("GET / HTTP/1.1\r\nHost: sumd\r\n\r\n")
	}
	conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	go conn.Write(pipeline.Bytes()) // blocks too once the server stops reading
	server, client := strings.TrimPrefix(in.URL(), "http://"), conn.LocalAddr().String()
	blocked := harness.WaitFor(t.Context(), 30*time.Second, func() bool { return sendQueue(server, client) >= 1<<20 })
	time.Sleep(2 * time.Second) // the server stays blocked on this client
	if q := sendQueue(server, client); !blocked || q < 1<<20 {
		t.Errorf("the server's socket to the client holds %d bytes unsent, want ≥ 1 MiB: its writes blocked", q)
	}
	conn.Close()

	// Resolve k: its first request was answered unseen.
	resp, err := harness.SendOne(t.Context(), harness.Client, in, k)
	if err != nil {
		t.Fatalf("retry of the unread addition: %v", err)
	}
	if resp.Status != http.StatusOK || !resp.Replayed {
		t.Errorf("retry of the unread addition: got %d replayed=%v %s, want a replay (the unread request was made)", resp.Status, resp.Replayed, resp.Body)
	}
	res.RecordUnseen(k, 0, sent, resp)
}

// sendQueue returns the bytes queued unsent on the local TCP socket from
// local to remote (both 127.0.0.1:port), from /proc/net/tcp; -1 if not
// found.
func sendQueue(local, remote string) int64 {
	hexAddr := func(a string) string {
		_, port, _ := net.SplitHostPort(a)
		p, _ := strconv.Atoi(port)
		return fmt.Sprintf("0100007F:%04X", p)
	}
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return -1
	}
	l, r := hexAddr(local), hexAddr(remote)
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && f[1] == l && f[2] == r {
			tx, _, _ := strings.Cut(f[4], ":")
			n, _ := strconv.ParseInt(tx, 16, 64)
			return n
		}
	}
	return -1
}
