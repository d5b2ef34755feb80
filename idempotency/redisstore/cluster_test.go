package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idemsum/idemsum/idempotency"
	"github.com/idemsum/idemsum/idempotency/idempotencytest"
	"github.com/idemsum/idemsum/idempotency/redisstore"
	"github.com/idemsum/idemsum/internal/redistopo"
	"github.com/idemsum/idemsum/internal/testenv"
)

// TestCluster runs the Store on a Redis Cluster of 3 masters with a
// replica each: the conformance suite, the key layout (a key's names in
// one slot, keys over every master), pipelining across masters, and a
// master killed under load.
func TestCluster(t *testing.T) {
	t.Parallel()
	topo := redistopo.StartCluster(t, 3, 1)
	cc := clusterClient(t, topo, patientTimeout)
	t.Run("conformance", func(t *testing.T) {
		var spaces sync.Map // *redisstore.Store → space
		idempotencytest.TestStore(t, idempotencytest.Harness{
			New: func(t *testing.T) idempotency.Store {
				sp := clusterSpace(t, cc)
				s := redisstore.New(sp.c, sp.prefix, secret)
				spaces.Store(s, sp)
				return s
			},
			Advance: func(t *testing.T, s idempotency.Store, d time.Duration) {
				sp, _ := spaces.Load(s)
				sp.(space).advance(t, d)
			},
		})
	})
	t.Run("layout", func(t *testing.T) { testClusterLayout(t, topo, cc) })
	t.Run("pipelining", func(t *testing.T) { testClusterPipelining(t, cc) })
	t.Run("resharding", func(t *testing.T) { testClusterResharding(t, topo) })
	t.Run("batch", func(t *testing.T) { testClusterBatch(t, cc) })
	// Last: it kills a master.
	t.Run("failover", func(t *testing.T) { testClusterFailover(t, topo, cc) })
}

// The timeouts of the tests' cluster clients: sumd's own, for the tests
// of what a failing master costs, and a patient one for the tests of what
// the Store does, so that a command slowed by a busy machine is not taken
// for a Redis outage (the Guard would then bypass the Store).
const (
	sumdTimeout    = 250 * time.Millisecond
	patientTimeout = 10 * time.Second
)

// clusterClient returns a cluster client of topo with sumd's options (one
// attempt per command, redirects followed) and timeout for dials, reads
// and writes.
func clusterClient(tb testing.TB, topo *redistopo.Cluster, timeout time.Duration) *redis.ClusterClient {
	opt, err := redis.ParseClusterURL(topo.URL())
	if err != nil {
		tb.Fatal(err)
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = timeout, timeout, timeout
	opt.DialerRetries = 1
	cc := redis.NewClusterClient(opt)
	tb.Cleanup(func() { cc.Close() })
	return cc
}

// clusterSpace is a key space of tb's own on cc, checked for keys without
// an expiry in Cleanup.
func clusterSpace(tb testing.TB, cc *redis.ClusterClient) space {
	sp := space{cc, "idemsum:t:" + testenv.Unique() + ":"}
	tb.Cleanup(func() { sp.wantTTLs(tb) })
	return sp
}

// testClusterLayout completes keys, some with braces, and checks that each
// key's claim and record share a slot while the keys cover every master.
func testClusterLayout(t *testing.T, topo *redistopo.Cluster, cc *redis.ClusterClient) {
	sp := clusterSpace(t, cc)
	s := redisstore.New(cc, sp.prefix, secret)
	ctx := t.Context()
	rec := idempotency.Record{Fingerprint: "fp", Status: 200, Body: []byte("x")}
	keys := []string{"{", "}", "{}", "{tag}", "a{b}c", "}{", "claim:x"}
	for i := range 200 {
		keys = append(keys, fmt.Sprint("k", i))
	}
	slots := map[int64]bool{}
	for _, k := range keys {
		tok, err := s.Claim(ctx, k, time.Minute)
		if err != nil {
			t.Fatalf("Claim %q: %v", k, err)
		}
		claimSlot := cc.ClusterKeySlot(ctx, redisstore.ClaimName(sp.prefix, k)).Val()
		if err := s.Complete(ctx, k, tok, rec, time.Hour); err != nil {
			t.Fatalf("Complete %q: %v", k, err)
		}
		recSlot := cc.ClusterKeySlot(ctx, redisstore.RecordName(sp.prefix, k)).Val()
		if claimSlot != recSlot {
			t.Errorf("key %q: claim in slot %d, record in slot %d, want one slot", k, claimSlot, recSlot)
		}
		slots[recSlot] = true
		if got, err := s.Get(ctx, k); err != nil || string(got.Body) != "x" {
			t.Errorf("Get %q = %q, %v; want the record", k, got.Body, err)
		}
	}
	perMaster := map[string]int{}
	var mu sync.Mutex
	cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		n := len(scanAll(t, m, sp.prefix+"*"))
		mu.Lock()
		defer mu.Unlock()
		perMaster[m.Options().Addr] = n
		return nil
	})
	t.Logf("%d keys in %d slots; records per master: %v", len(keys), len(slots), perMaster)
	masters, _ := topo.Masters(ctx)
	if len(perMaster) != len(masters) {
		t.Errorf("records on %d masters, want all %d", len(perMaster), len(masters))
	}
	for addr, n := range perMaster {
		if n < len(keys)/10 {
			t.Errorf("master %s holds %d of %d records, want them spread", addr, n, len(keys))
		}
	}
}

// pipelineCounter counts the pipelines a client sends and the commands in
// them.
type pipelineCounter struct{ pipelines, cmds atomic.Int64 }

func (*pipelineCounter) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (*pipelineCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (pc *pipelineCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		pc.pipelines.Add(1)
		pc.cmds.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// testClusterPipelining claims and completes many keys at once: the
// Store's pipelines span masters (go-redis splits them), and every call
// gets its own answer.
func testClusterPipelining(t *testing.T, cc *redis.ClusterClient) {
	topoClient := redis.NewClusterClient(cc.Options())
	defer topoClient.Close()
	pc := &pipelineCounter{}
	topoClient.AddHook(pc)
	sp := clusterSpace(t, cc)
	s := redisstore.New(topoClient, sp.prefix, secret)
	ctx := t.Context()
	const n = 400
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			k := fmt.Sprint("p", i)
			tok, err := s.Claim(ctx, k, time.Minute)
			if err != nil {
				t.Errorf("Claim %s: %v", k, err)
				return
			}
			if _, err := s.Claim(ctx, k, time.Minute); !errors.Is(err, idempotency.ErrInFlight) {
				t.Errorf("second Claim %s: %v, want ErrInFlight", k, err)
			}
			rec := idempotency.Record{Fingerprint: k, Status: 200, Body: []byte(k)}
			if err := s.Complete(ctx, k, tok, rec, time.Hour); err != nil {
				t.Errorf("Complete %s: %v", k, err)
			}
			if got, err := s.Get(ctx, k); err != nil || string(got.Body) != k {
				t.Errorf("Get %s = %q, %v; want its own record", k, got.Body, err)
			}
		})
	}
	wg.Wait()
	p, c := pc.pipelines.Load(), pc.cmds.Load()
	t.Logf("%d claims, %d duplicate claims and %d completes in %d pipelines (%.1f calls each)", n, n, n, p, float64(c)/float64(max(p, 1)))
	if p == 0 || c < 2*p {
		t.Errorf("%d calls in %d pipelines, want calls sharing pipelines", c, p)
	}
}

// testClusterResharding moves the slot of a completed key to another
// master under a client that does not know yet: during the move its
// calls meet ASK, after it MOVED, and each is followed although the Store
// sends its commands once (NoRetry).
func testClusterResharding(t *testing.T, topo *redistopo.Cluster) {
	cc := clusterClient(t, topo, patientTimeout)
	sp := clusterSpace(t, cc)
	s := redisstore.New(cc, sp.prefix, secret)
	ctx := t.Context()
	rec := idempotency.Record{Fingerprint: "fp", Status: 200, Body: []byte("moved")}
	tok, err := s.Claim(ctx, "k", time.Minute)
	mustNil(t, "Claim", err)
	mustNil(t, "Complete", s.Complete(ctx, "k", tok, rec, time.Hour))
	name := redisstore.RecordName(sp.prefix, "k")
	slot := cc.ClusterKeySlot(ctx, name).Val()
	from, to := moveEnds(t, topo, cc, name)
	fromID, toID := from.ClusterMyID(ctx).Val(), to.ClusterMyID(ctx).Val()
	mustNil(t, "SETSLOT IMPORTING", to.Do(ctx, "CLUSTER", "SETSLOT", slot, "IMPORTING", fromID).Err())
	mustNil(t, "SETSLOT MIGRATING", from.Do(ctx, "CLUSTER", "SETSLOT", slot, "MIGRATING", toID).Err())
	keys := from.ClusterGetKeysInSlot(ctx, int(slot), 100).Val()
	host, port, _ := strings.Cut(to.Options().Addr, ":")
	args := append([]any{"MIGRATE", host, port, "", 0, 5000, "KEYS"}, toAny(keys)...)
	mustNil(t, "MIGRATE", from.Do(ctx, args...).Err())
	// The record has moved, the slot not yet: the old master answers ASK.
	if got, err := s.Get(ctx, "k"); err != nil || string(got.Body) != "moved" {
		t.Errorf("Get during the move (ASK) = %q, %v; want the record", got.Body, err)
	}
	for _, m := range []*redis.Client{to, from} {
		mustNil(t, "SETSLOT NODE", m.Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", toID).Err())
	}
	// The slot has moved: the old master answers MOVED.
	if _, err := s.Claim(ctx, "k", time.Minute); !errors.Is(err, idempotency.ErrInFlight) {
		t.Errorf("Claim of the completed key after the move (MOVED) = %v, want ErrInFlight", err)
	}
	if got, err := s.Get(ctx, "k"); err != nil || string(got.Body) != "moved" {
		t.Errorf("Get after the move = %q, %v; want the record", got.Body, err)
	}
	if n := to.Exists(ctx, name).Val(); n != 1 {
		t.Errorf("the record is not on the new master %s", to.Options().Addr)
	}
}

// moveEnds returns the master of name, as cc sees it, and another master.
func moveEnds(t *testing.T, topo *redistopo.Cluster, cc *redis.ClusterClient, name string) (from, to *redis.Client) {
	ctx := t.Context()
	owner, err := cc.MasterForKey(ctx, name)
	mustNil(t, "MasterForKey", err)
	masters, err := topo.Masters(ctx)
	mustNil(t, "Masters", err)
	for _, m := range masters {
		if m.Addr != owner.Options().Addr {
			return topo.Node(owner.Options().Addr).Client(), m.Client()
		}
	}
	t.Fatal("no other master")
	return nil, nil
}

func toAny(ss []string) []any {
	a := make([]any, len(ss))
	for i, s := range ss {
		a[i] = s
	}
	return a
}

// testClusterFailover kills a master while claims and completes run: calls
// fail (never a wrong answer), and once a replica has taken over the
// Store works again on the same client, without a restart.
func testClusterFailover(t *testing.T, topo *redistopo.Cluster, cc *redis.ClusterClient) {
	sp := clusterSpace(t, cc)
	s := redisstore.New(cc, sp.prefix, secret)
	ctx := t.Context()
	masters, err := topo.Masters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := fmt.Sprint("f", w, "-", i)
				tok, err := s.Claim(ctx, k, time.Minute)
				if errors.Is(err, idempotency.ErrInFlight) {
					t.Errorf("Claim of the fresh key %s: ErrInFlight, want a claim or a failure", k)
				}
				if err != nil {
					failed.Add(1)
					continue
				}
				if s.Complete(ctx, k, tok, idempotency.Record{Fingerprint: k, Status: 200}, time.Hour) != nil {
					failed.Add(1)
					continue
				}
				ok.Add(1)
			}
		})
	}
	defer func() { close(stop); wg.Wait() }()
	waitUntil(t, 10*time.Second, "claims going", func() bool { return ok.Load() > 100 })
	masters[0].Kill()
	killed := time.Now()
	if err := topo.WaitReady(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	settled := time.Now()
	// Every master takes claims again, through the same client.
	waitUntil(t, 10*time.Second, "every key claimable again", func() bool {
		for i := range 30 {
			k := fmt.Sprint("after-", time.Now().UnixNano(), "-", i)
			if _, err := s.Claim(ctx, k, time.Minute); err != nil {
				return false
			}
		}
		return true
	})
	t.Logf("master %s killed: cluster settled after %v, the Store used every slot again %v after that; %d calls ok, %d failed",
		masters[0].Addr, settled.Sub(killed).Round(time.Millisecond), time.Since(settled).Round(time.Millisecond), ok.Load(), failed.Load())
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
