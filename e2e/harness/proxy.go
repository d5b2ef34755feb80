package harness

import (
	"net"
	"net/url"
	"testing"

	mysqldrv "github.com/go-sql-driver/mysql"

	"github.com/idemsum/idemsum/internal/faultproxy"
)

// StartProxy starts a fault proxy to target that Cleanup closes.
func StartProxy(t testing.TB, target string) *faultproxy.Proxy {
	t.Helper()
	p, err := faultproxy.New(target)
	if err != nil {
		t.Fatalf("fault proxy to %s: %v", target, err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// proxyDSN starts a fault proxy to the MySQL server of dsn and returns it
// with dsn rewritten to go through it.
func proxyDSN(t testing.TB, dsn string) (*faultproxy.Proxy, string) {
	t.Helper()
	cfg, err := mysqldrv.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("parse DSN: %v", err)
	}
	p := StartProxy(t, cfg.Addr)
	cfg.Addr = p.Addr()
	return p, cfg.FormatDSN()
}

// proxyURL starts a fault proxy to the Redis server of u and returns it
// with u rewritten to go through it.
func proxyURL(t testing.TB, u string) (*faultproxy.Proxy, string) {
	t.Helper()
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatalf("parse Redis URL: %v", err)
	}
	target := parsed.Host
	if parsed.Port() == "" {
		target = net.JoinHostPort(parsed.Hostname(), "6379")
	}
	p := StartProxy(t, target)
	parsed.Host = p.Addr()
	return p, parsed.String()
}
