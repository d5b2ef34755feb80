package harness

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/idemsum/idemsum/internal/apicheck"
	"github.com/idemsum/idemsum/server"
)

// api checks the tests' exchanges against the OpenAPI description.
var api = sync.OnceValues(func() (*apicheck.Checker, error) { return apicheck.New(server.OpenAPI()) })

// apiLog collects the exchanges with one Cluster that the description
// does not allow; StartCluster's Cleanup reports them on the Cluster's
// test. Safe for concurrent use.
type apiLog struct {
	mu    sync.Mutex
	n     int
	first []string
}

// check checks one exchange against the description
// (apicheck.Checker.Check) and notes a violation. A response cut short at
// Do's read limit is checked for its status and headers only.
func (l *apiLog) check(req *http.Request, body []byte, resp *Response) {
	if proxyError(resp) {
		return // nginx's own answer, not sumd's
	}
	c, err := api()
	if err == nil {
		x := apicheck.Exchange{Method: req.Method, URL: req.URL, Header: req.Header, Body: body,
			Status: resp.Status, RHeader: resp.Header, RBody: resp.Body}
		err = c.Check(x)
	}
	if err == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n++; len(l.first) < 10 {
		l.first = append(l.first, err.Error())
	}
}

// report fails t if any exchange was not allowed, quoting the first ones.
func (l *apiLog) report(t testing.TB) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n > 0 {
		t.Errorf("%d exchanges not allowed by server/openapi.json; the first:\n  %s", l.n, strings.Join(l.first, "\n  "))
	}
}

// requestBody returns a copy of req's body, through GetBody, before req is
// sent; nil without one.
func requestBody(req *http.Request) []byte {
	if req.GetBody == nil {
		return nil
	}
	r, err := req.GetBody()
	if err != nil {
		return nil
	}
	defer r.Close()
	b, _ := io.ReadAll(r)
	return b
}

// proxyError reports whether resp is an error page of nginx itself (the
// nginx tests put it in front of sumd): a 5xx in HTML from Server nginx.
// nginx's copies of sumd's answers are checked like any other.
func proxyError(resp *Response) bool {
	return resp.Status >= 500 && strings.HasPrefix(resp.Header.Get("Server"), "nginx") &&
		strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html")
}

// APITransport returns an http.RoundTripper that sends through next and
// checks every exchange against the description like Do, for clients
// other than Do's (the client package's).
func (c *Cluster) APITransport(next http.RoundTripper) http.RoundTripper {
	return apiTransport{c.api, next}
}

type apiTransport struct {
	log  *apiLog
	next http.RoundTripper
}

func (t apiTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	body := requestBody(req)
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(rb))
	if err != nil {
		return nil, err
	}
	t.log.check(req, body, &Response{Status: resp.StatusCode, Header: resp.Header, Body: rb})
	return resp, nil
}
