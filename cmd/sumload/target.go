package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// target is one instance: where to dial and what to put in requests.
type target struct {
	addr string      // host:port
	get  string      // the whole GET /sum request
	post string      // POST /sum's request line and fixed headers
	tls  *tls.Config // nil for http://
}

// parseTarget parses a base URL of -urls; a token (-token) goes with
// every request as Authorization: Bearer.
func parseTarget(base, token string) (*target, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http:// or https:// URL", base)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("%q: want scheme://host[:port][/path] only", base)
	}
	path := strings.TrimRight(u.EscapedPath(), "/") + "/sum"
	t := &target{addr: dialAddr(u)}
	auth := ""
	if token != "" {
		auth = "Authorization: Bearer " + token + "\r\n"
	}
	t.get = "GET " + path + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUser-Agent: sumload\r\n" + auth + "\r\n"
	t.post = "POST " + path + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUser-Agent: sumload\r\n" + auth + "Content-Type: application/json\r\n"
	if u.Scheme == "https" {
		t.tls = &tls.Config{ServerName: u.Hostname()}
	}
	return t, nil
}

// dialAddr is u's host:port, with the scheme's port if u has none.
func dialAddr(u *url.URL) string {
	switch {
	case u.Port() != "":
		return u.Host
	case u.Scheme == "https":
		return net.JoinHostPort(u.Hostname(), "443")
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

// appendAdd appends to b the request that adds k's number, under the key
// prefix followed by k's id if it has one.
func (t *target) appendAdd(b []byte, prefix string, k keyed) []byte {
	b = append(b, t.post...)
	if k.id != 0 {
		b = append(b, "Idempotency-Key: "...)
		b = append(b, prefix...)
		b = strconv.AppendInt(b, k.id, 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "Content-Length: "...)
	b = strconv.AppendInt(b, int64(len(`{"number":}`)+digits(k.number)), 10)
	b = append(b, "\r\n\r\n{\"number\":"...)
	b = strconv.AppendUint(b, k.number, 10)
	return append(b, '}')
}

func digits(n uint64) int {
	d := 1
	for ; n >= 10; n /= 10 {
		d++
	}
	return d
}
