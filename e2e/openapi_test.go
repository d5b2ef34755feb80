package e2e_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"idemsum/internal/apicheck"
	"idemsum/server"
)

// api checks the tests' exchanges against the OpenAPI description.
var api = sync.OnceValues(func() (*apicheck.Checker, error) { return apicheck.New(server.OpenAPI()) })

// apiViolations are the exchanges the description does not allow, for
// TestMain to report (do has no testing.TB to fail).
var apiViolations struct {
	sync.Mutex
	n     int
	first []string
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

// checkAPI checks one exchange of do against the description
// (apicheck.Checker.Check) and notes a violation. A response cut short at
// do's read limit is checked for its status and headers only.
func checkAPI(req *http.Request, body []byte, resp *Response) {
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
	apiViolations.Lock()
	defer apiViolations.Unlock()
	if apiViolations.n++; len(apiViolations.first) < 10 {
		apiViolations.first = append(apiViolations.first, err.Error())
	}
}

// proxyError reports whether resp is an error page of nginx itself (the
// nginx tests put it in front of sumd): a 5xx in HTML from Server nginx.
// nginx's copies of sumd's answers are checked like any other.
func proxyError(resp *Response) bool {
	return resp.Status >= 500 && strings.HasPrefix(resp.Header.Get("Server"), "nginx") &&
		strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html")
}

// apiReport returns an error describing the violations, if any.
func apiReport() error {
	apiViolations.Lock()
	defer apiViolations.Unlock()
	if apiViolations.n == 0 {
		return nil
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%d exchanges not allowed by server/openapi.json; the first:", apiViolations.n)
	for _, v := range apiViolations.first {
		fmt.Fprintf(&b, "\n  %s", v)
	}
	return fmt.Errorf("%s", b.String())
}

// apiTransport is an http.RoundTripper that checks every exchange against
// the description, for clients other than do (the client package's).
type apiTransport struct{ next http.RoundTripper }

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
	checkAPI(req, body, &Response{Status: resp.StatusCode, Header: resp.Header, Body: rb})
	return resp, nil
}
