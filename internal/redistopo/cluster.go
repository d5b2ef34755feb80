package redistopo

import (
	"context"
	"fmt"
	"maps"
	"net"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idemsum/idemsum/internal/testenv"
)

// Cluster is a Redis Cluster of a test. Its nodes keep their order; their
// roles change with failovers (Masters says which lead now).
type Cluster struct {
	Nodes []*Node

	tb     testing.TB
	client *redis.ClusterClient
}

// StartCluster starts masters × (1 + replicas) cluster nodes, joins them
// with redis-cli --cluster create (replicas per master), and waits until
// every node serves all 16384 slots and every replica is in sync.
// cluster-node-timeout is NodeTimeout and cluster-replica-validity-factor
// 0, so a replica takes over from a dead master within a few seconds.
// args are more redis-server arguments for every node.
func StartCluster(tb testing.TB, masters, replicas int, args ...string) *Cluster {
	tb.Helper()
	bin := Require(tb)
	c := &Cluster{tb: tb}
	conf := dataConf(func(int) string {
		bus, err := testenv.FreePort()
		if err != nil {
			tb.Fatalf("free port: %v", err)
		}
		return fmt.Sprintf("cluster-enabled yes\ncluster-config-file nodes.conf\ncluster-node-timeout %d\n"+
			"cluster-port %d\ncluster-replica-validity-factor 0\n", NodeTimeout.Milliseconds(), bus)
	})
	create := []string{"--cluster", "create"}
	for i := range masters * (1 + replicas) {
		n := startNode(tb, bin, fmt.Sprint("cluster node ", i), conf, args...)
		c.Nodes = append(c.Nodes, n)
		create = append(create, n.Addr)
	}
	create = append(create, "--cluster-replicas", fmt.Sprint(replicas), "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "redis-cli", create...).CombinedOutput(); err != nil {
		tb.Fatalf("redis-cli %s: %v\n%s", strings.Join(create, " "), err, out)
	}
	if err := c.WaitReady(30 * time.Second); err != nil {
		tb.Fatal(err)
	}
	c.client = redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.addrs()})
	tb.Cleanup(func() { c.client.Close() })
	return c
}

func (c *Cluster) addrs() []string {
	var addrs []string
	for _, n := range c.Nodes {
		addrs = append(addrs, n.Addr)
	}
	return addrs
}

// URL returns the cluster in go-redis's ParseClusterURL form, every node a
// seed: redis://first?addr=second&addr=...
func (c *Cluster) URL() string {
	addrs := c.addrs()
	return "redis://" + addrs[0] + "?addr=" + strings.Join(addrs[1:], "&addr=")
}

// Client returns a cluster client of the test's own (go-redis defaults),
// closed in Cleanup.
func (c *Cluster) Client() *redis.ClusterClient { return c.client }

// Node returns the node at addr, or nil.
func (c *Cluster) Node(addr string) *Node {
	for _, n := range c.Nodes {
		if n.Addr == addr {
			return n
		}
	}
	return nil
}

// Masters returns the nodes that serve slots now, as a live node sees it
// (CLUSTER SHARDS).
func (c *Cluster) Masters(ctx context.Context) ([]*Node, error) {
	for _, n := range c.Nodes {
		if !n.Alive() {
			continue
		}
		m, err := slotMap(ctx, n)
		if err != nil {
			return nil, err
		}
		var masters []*Node
		for _, addr := range m {
			if nd := c.Node(addr); nd != nil && !slices.Contains(masters, nd) {
				masters = append(masters, nd)
			}
		}
		return masters, nil
	}
	return nil, fmt.Errorf("no live cluster node")
}

// WaitReady waits up to d until the cluster has settled: every live node
// reports cluster_state:ok with all slots ok, all live nodes agree on which
// node serves which slots, each of those is live and a master, and every
// live replica's link to its master is up.
func (c *Cluster) WaitReady(d time.Duration) error {
	return poll(d, "cluster ready", c.ready)
}

func (c *Cluster) ready(ctx context.Context) error {
	var want map[string]string
	for _, n := range c.Nodes {
		if !n.Alive() {
			continue
		}
		info, err := n.client.ClusterInfo(ctx).Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_slots_ok:16384") {
			return fmt.Errorf("%s: CLUSTER INFO %q", n.Addr, info)
		}
		m, err := slotMap(ctx, n)
		if err != nil {
			return err
		}
		if want == nil {
			want = m
		} else if !maps.Equal(m, want) {
			return fmt.Errorf("%s sees slots %v, another node %v", n.Addr, m, want)
		}
		if err := c.inSync(ctx, n, m); err != nil {
			return err
		}
	}
	return nil
}

// inSync checks that n is a master serving slots in m, or a replica whose
// link to its master is up.
func (c *Cluster) inSync(ctx context.Context, n *Node, m map[string]string) error {
	role, err := n.Role(ctx)
	if err != nil {
		return err
	}
	serving := false
	for _, addr := range m {
		serving = serving || addr == n.Addr
		if nd := c.Node(addr); nd == nil || !nd.Alive() {
			return fmt.Errorf("slots served by %s, which is not a live node", addr)
		}
	}
	switch {
	case serving && role != "master":
		return fmt.Errorf("%s serves slots as %s", n.Addr, role)
	case role == "slave":
		if link, err := n.info(ctx, "replication", "master_link_status"); err != nil || link != "up" {
			return fmt.Errorf("replica %s: master link %q (%v)", n.Addr, link, err)
		}
	}
	return nil
}

// slotMap returns CLUSTER SHARDS of n as "start-end" → the address of the
// shard's master (an online one, if a failed one is listed too).
func slotMap(ctx context.Context, n *Node) (map[string]string, error) {
	shards, err := n.client.ClusterShards(ctx).Result()
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, sh := range shards {
		master := ""
		for _, nd := range sh.Nodes {
			if nd.Role == "master" && (master == "" || nd.Health == "online") {
				master = net.JoinHostPort(nd.IP, fmt.Sprint(nd.Port))
			}
		}
		for _, r := range sh.Slots {
			m[fmt.Sprintf("%d-%d", r.Start, r.End)] = master
		}
	}
	return m, nil
}
