package redistopo

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// FailoverTimeout is the sentinels' failover-timeout. A sentinel that
// failed a master over does not start another failover of it within
// twice this.
const FailoverTimeout = 2 * time.Second

// Sentinel is data nodes (the first the master at start, the others its
// replicas) watched by sentinels under the master name Name.
type Sentinel struct {
	Name      string
	Data      []*Node
	Sentinels []*Node

	tb     testing.TB
	client *redis.Client
}

// StartSentinel starts a master with replicas and sentinels that monitor
// it (quorum: a majority; down-after-milliseconds NodeTimeout), and waits
// until every sentinel knows every replica and every other sentinel.
// redis-sentinel runs the sentinels (redis-server --sentinel when only
// redis-server is installed).
func StartSentinel(tb testing.TB, replicas, sentinels int) *Sentinel {
	tb.Helper()
	bin := Require(tb)
	s := &Sentinel{Name: "idemsum", tb: tb}
	master := startNode(tb, bin, "master", dataConf(nil))
	s.Data = append(s.Data, master)
	for i := range replicas {
		s.Data = append(s.Data, startNode(tb, bin, fmt.Sprint("replica ", i), dataConf(func(int) string {
			return "replicaof " + strings.Replace(master.Addr, ":", " ", 1) + "\n"
		})))
	}
	sbin, sargs := sentinelCommand(tb, bin)
	conf := func(int) string {
		return fmt.Sprintf("sentinel monitor %[1]s %[2]s %[3]d\nsentinel down-after-milliseconds %[1]s %[4]d\n"+
			"sentinel failover-timeout %[1]s %[5]d\nsentinel parallel-syncs %[1]s 1\n",
			s.Name, strings.Replace(master.Addr, ":", " ", 1), sentinels/2+1, NodeTimeout.Milliseconds(), FailoverTimeout.Milliseconds())
	}
	for i := range sentinels {
		s.Sentinels = append(s.Sentinels, startNode(tb, sbin, fmt.Sprint("sentinel ", i), conf, sargs...))
	}
	if _, err := s.WaitMaster(30*time.Second, nil); err != nil {
		tb.Fatal(err)
	}
	s.client = redis.NewFailoverClient(&redis.FailoverOptions{MasterName: s.Name, SentinelAddrs: s.sentinelAddrs()})
	tb.Cleanup(func() { s.client.Close() })
	return s
}

// sentinelCommand returns the program and extra arguments that run a
// sentinel.
func sentinelCommand(tb testing.TB, redisServer string) (string, []string) {
	if p, err := exec.LookPath("redis-sentinel"); err == nil {
		return p, nil
	}
	tb.Logf("redis-sentinel is not installed; running redis-server --sentinel")
	return redisServer, []string{"--sentinel"}
}

func (s *Sentinel) sentinelAddrs() []string {
	var addrs []string
	for _, n := range s.Sentinels {
		addrs = append(addrs, n.Addr)
	}
	return addrs
}

// URL returns the topology in go-redis's ParseFailoverURL form:
// redis://sentinel1/0?master_name=Name&addr=sentinel2&addr=...
func (s *Sentinel) URL() string {
	addrs := s.sentinelAddrs()
	return "redis://" + addrs[0] + "/0?master_name=" + s.Name + "&addr=" + strings.Join(addrs[1:], "&addr=")
}

// Client returns a Sentinel-backed client of the test's own (go-redis
// defaults), closed in Cleanup.
func (s *Sentinel) Client() *redis.Client { return s.client }

// Master returns the data node that the sentinels agree is the master.
func (s *Sentinel) Master(ctx context.Context) (*Node, error) {
	var addr string
	for _, sn := range s.Sentinels {
		if !sn.Alive() {
			continue
		}
		hp, err := sn.client.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", s.Name).StringSlice()
		if err != nil {
			return nil, fmt.Errorf("sentinel %s: %w", sn.Addr, err)
		}
		a := net.JoinHostPort(hp[0], hp[1])
		if addr != "" && a != addr {
			return nil, fmt.Errorf("sentinels disagree on the master: %s and %s", addr, a)
		}
		addr = a
	}
	for _, n := range s.Data {
		if n.Addr == addr {
			return n, nil
		}
	}
	return nil, fmt.Errorf("the sentinels' master %q is none of the data nodes", addr)
}

// Failover makes a sentinel fail the master over (SENTINEL FAILOVER) and
// waits up to d for the new master (WaitMaster); it returns it.
func (s *Sentinel) Failover(d time.Duration) (*Node, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	old, err := s.Master(ctx)
	if err != nil {
		return nil, err
	}
	for _, sn := range s.Sentinels {
		if sn.Alive() {
			if err := sn.client.Do(ctx, "SENTINEL", "FAILOVER", s.Name).Err(); err != nil {
				return nil, fmt.Errorf("SENTINEL FAILOVER on %s: %w", sn.Addr, err)
			}
			break
		}
	}
	m, err := s.WaitSwitched(d, old)
	if err != nil {
		return nil, err
	}
	// The sentinels turn the old master into a replica of the new one
	// when they next look at it, up to 10s later (their INFO period);
	// an operator (or this test) may do it at once.
	if err := old.client.Do(ctx, "REPLICAOF", m.Host(), m.Port()).Err(); err != nil {
		return nil, fmt.Errorf("REPLICAOF on the old master %s: %w", old.Addr, err)
	}
	return s.WaitMaster(d, old)
}

// WaitSwitched waits up to d until every live sentinel names a live
// master other than not, and returns it; the rest of the topology may not
// have followed yet (see WaitMaster).
func (s *Sentinel) WaitSwitched(d time.Duration, not *Node) (*Node, error) {
	var m *Node
	err := poll(d, "sentinels switched master", func(ctx context.Context) error {
		var err error
		m, err = s.Master(ctx)
		switch {
		case err != nil:
			return err
		case m == not:
			return fmt.Errorf("the sentinels still name %s", m.Addr)
		case !m.Alive():
			return fmt.Errorf("the sentinels name %s, which was killed", m.Addr)
		}
		return nil
	})
	return m, err
}

// WaitMaster waits up to d until the topology has settled on a master other
// than not (any when nil): every live sentinel names it, it is live and a
// master, every other live data node replicates it with its link up, and
// every sentinel sees those replicas and the other live sentinels, so that
// the next failover can happen. It returns the master.
func (s *Sentinel) WaitMaster(d time.Duration, not *Node) (*Node, error) {
	m, err := s.WaitSwitched(d, not)
	if err != nil {
		return nil, err
	}
	return m, poll(d, "sentinel topology settled on "+m.Addr, func(ctx context.Context) error {
		return s.settled(ctx, m)
	})
}

func (s *Sentinel) settled(ctx context.Context, m *Node) error {
	if role, err := m.Role(ctx); err != nil || role != "master" {
		return fmt.Errorf("master %s: ROLE %q (%v)", m.Addr, role, err)
	}
	want := 0
	for _, n := range s.Data {
		if n == m || !n.Alive() {
			continue
		}
		want++
		host, err := n.info(ctx, "replication", "master_port")
		if err != nil || !strings.HasSuffix(m.Addr, ":"+host) {
			return fmt.Errorf("replica %s: master_port %q (%v), want that of %s", n.Addr, host, err, m.Addr)
		}
		if link, err := n.info(ctx, "replication", "master_link_status"); err != nil || link != "up" {
			return fmt.Errorf("replica %s: master link %q (%v)", n.Addr, link, err)
		}
	}
	others := -1
	for _, sn := range s.Sentinels {
		if sn.Alive() {
			others++
		}
	}
	for _, sn := range s.Sentinels {
		if sn.Alive() {
			if err := s.sees(ctx, sn, want, others); err != nil {
				return err
			}
		}
	}
	return nil
}

// sees checks that sentinel sn sees the master without trouble, want
// healthy replicas and others other sentinels.
func (s *Sentinel) sees(ctx context.Context, sn *Node, want, others int) error {
	master, err := sn.client.Do(ctx, "SENTINEL", "MASTER", s.Name).Result()
	if err != nil {
		return fmt.Errorf("sentinel %s: %w", sn.Addr, err)
	}
	f := fields(master)
	if f["flags"] != "master" || f["num-other-sentinels"] != fmt.Sprint(others) {
		return fmt.Errorf("sentinel %s: master flags %q, %s other sentinels, want master and %d", sn.Addr, f["flags"], f["num-other-sentinels"], others)
	}
	replicas, err := sn.client.Do(ctx, "SENTINEL", "REPLICAS", s.Name).Slice()
	if err != nil {
		return fmt.Errorf("sentinel %s: %w", sn.Addr, err)
	}
	ok := 0
	for _, r := range replicas {
		if fields(r)["flags"] == "slave" { // not s_down, not disconnected
			ok++
		}
	}
	if ok < want {
		return fmt.Errorf("sentinel %s sees %d healthy replicas, want %d", sn.Addr, ok, want)
	}
	return nil
}

// fields turns a reply of SENTINEL MASTER (a flat list or, in RESP3, a
// map) into a map.
func fields(v any) map[string]string {
	m := map[string]string{}
	switch v := v.(type) {
	case []any:
		for i := 0; i+1 < len(v); i += 2 {
			m[fmt.Sprint(v[i])] = fmt.Sprint(v[i+1])
		}
	case map[any]any:
		for k, x := range v {
			m[fmt.Sprint(k)] = fmt.Sprint(x)
		}
	}
	return m
}
