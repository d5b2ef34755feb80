package harness

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idemsum/idemsum/client"
)

// ClientOf returns a client.Client of c's instances, with opts, whose
// base URLs name the instances (http://sumd0, ...) and whose dialer finds
// each one's current port, so that the client keeps working across
// restarts (which move an instance to a new port).
func ClientOf(t testing.TB, c *Cluster, opts ...client.Option) *client.Client {
	t.Helper()
	byHost := map[string]*Instance{}
	var urls []string
	for _, in := range c.Instances {
		byHost[in.Name+":80"] = in
		urls = append(urls, "http://"+in.Name)
	}
	var dialer net.Dialer
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			in, ok := byHost[addr]
			if !ok {
				return nil, fmt.Errorf("no instance %s", addr)
			}
			return dialer.DialContext(ctx, network, strings.TrimPrefix(in.URL(), "http://"))
		},
		MaxIdleConnsPerHost: 64,
	}
	t.Cleanup(tr.CloseIdleConnections)
	opts = append([]client.Option{client.WithHTTPClient(&http.Client{Transport: c.APITransport(tr)}),
		client.WithAttemptTimeout(ClientTimeout), client.WithBackoff(20*time.Millisecond, 500*time.Millisecond)}, opts...)
	cl, err := client.New(urls, opts...)
	if err != nil {
		t.Fatalf("client.New: %v", err)
	}
	return cl
}
