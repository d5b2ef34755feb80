package client_test

import (
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"testing"

	"github.com/idemsum/idemsum/client"
)

// TestRedirectNotFollowed: sumd never redirects, so a 3xx comes from
// something else in front of it. Following it would turn POST /sum into
// GET /sum (301, 302, 303: a read whose 200 looks like success) or send
// the number and the token somewhere else (307, 308). The Client follows
// none: the 3xx is a final *Error matching ErrRedirected.
func TestRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	for _, status := range []int{301, 302, 303, 307, 308} {
		for _, call := range []string{"Add", "Total"} {
			for _, where := range []string{"other-host", "same-host"} {
				t.Run(fmt.Sprint(status, "-", call, "-", where), func(t *testing.T) {
					t.Parallel()
					target := newScript(t, ok("1"))
					loc := target.srv.URL + "/sum"
					if where == "same-host" {
						loc = "/moved"
					}
					front := newScript(t, page(status).with("Location", loc), ok("1"))
					res, err := callOnce(t, client.New, call, front.srv.URL)
					checkRedirect(t, err, status, loc, res)
					if got := front.requests(); len(got) != 1 || got[0].path != "/sum" {
						t.Errorf("the redirecting server got %+v, want one request to /sum", got)
					}
					if got := target.requests(); len(got) != 0 {
						t.Errorf("the redirect target got %+v, want nothing (no number, no token)", got)
					}
				})
			}
		}
	}
}

// TestRedirectWithHTTPClient: the caller's http.Client is not followed
// through either, and is left as it was.
func TestRedirectWithHTTPClient(t *testing.T) {
	t.Parallel()
	target := newScript(t, ok("1"))
	front := newScript(t, page(307).with("Location", target.srv.URL+"/sum"))
	hc := &http.Client{}
	newc := func(urls []string, opts ...client.Option) (*client.Client, error) {
		return client.New(urls, append(opts, client.WithHTTPClient(hc))...)
	}
	res, err := callOnce(t, newc, "Add", front.srv.URL)
	checkRedirect(t, err, 307, target.srv.URL+"/sum", res)
	if len(target.requests()) != 0 || hc.CheckRedirect != nil {
		t.Errorf("got %d requests at the target and CheckRedirect set on the caller's client, want neither", len(target.requests()))
	}
}

// callOnce makes one Add or Total with a token through a Client made by
// newc, returning the total and the error.
func callOnce(t *testing.T, newc func([]string, ...client.Option) (*client.Client, error), call, url string) (*big.Int, error) {
	t.Helper()
	c, err := newc([]string{url}, client.WithToken("isk_secret"))
	if err != nil {
		t.Fatal(err)
	}
	if call == "Total" {
		return c.Total(t.Context())
	}
	res, err := c.Add(t.Context(), 1)
	if res.Attempts != 1 {
		t.Errorf("got %d attempts, want 1 (a redirect is never retried)", res.Attempts)
	}
	return res.Total, err
}

func checkRedirect(t *testing.T, err error, status int, loc string, total *big.Int) {
	t.Helper()
	var e *client.Error
	if !errors.Is(err, client.ErrRedirected) || !errors.As(err, &e) || total != nil {
		t.Fatalf("got %v, %v; want an *Error matching ErrRedirected and no total", total, err)
	}
	if e.Status != status || e.Location != loc || errors.Is(err, client.ErrOutcomeUnknown) {
		t.Errorf("got %#v (outcome unknown %v), want status %d, Location %q, nothing added", e, errors.Is(err, client.ErrOutcomeUnknown), status, loc)
	}
}
