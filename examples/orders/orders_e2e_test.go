package orders_test

import (
	"database/sql"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/idemsum/idemsum/idempotency"
	"github.com/idemsum/idemsum/internal/faultproxy"
	"github.com/idemsum/idemsum/internal/redistopo"
	"github.com/idemsum/idemsum/internal/testenv"
)

// The end-to-end test of the example service: the real binary, its own
// MySQL database, its own Redis behind a fault proxy, a warehouse that
// holds requests on demand. It asserts what docs/toolkit.md promises for
// a handler fenced as the orders handler is: every key places exactly one
// order, whatever is killed or lost, and while the Store cannot be
// reached the answer is 503 and nothing is placed.

// body is the order every key of the test places; sent_at differs on
// each attempt, as a real client's clock would, and the fingerprint
// ignores it.
func body(attempt int) string {
	return fmt.Sprintf(`{"item":"book","quantity":2,"sent_at":"attempt %d"}`, attempt)
}

func TestOrdersExactlyOnce(t *testing.T) {
	for _, store := range []string{"mysql", "redis"} {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			dsn := testenv.MySQL(t)
			db, err := sql.Open("mysql", dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			wh := newWarehouse(t)
			args := []string{"-mysql-dsn", dsn, "-warehouse-url", wh.URL, "-lease", "1s", "-store", store}
			var r *redisOfItsOwn
			if store == "redis" {
				r = startRedis(t)
				args = append(args, "-redis-url", "redis://"+r.proxy.Addr()+"/0", "-redis-secret", "test secret")
			}
			o := &run{t: t, db: db, wh: wh, orders: startOrders(t, args...), first: map[string]answer{}}
			o.completeThenKill()
			if r != nil {
				o.redisFlushed(r)
				o.redisStopped(r)
			}
		})
	}
}

// run is one store's run: its service and what each key was answered.
type run struct {
	t      *testing.T
	db     *sql.DB
	wh     *warehouse
	orders *proc
	first  map[string]answer // each key's first 201
}

// completeThenKill: four keys complete; six more are sent while the
// warehouse holds them, so each handler has inserted its order and waits;
// the process is killed (SIGKILL) with all six in flight and restarted.
// Every key is then retried until 201: the completed ones are replayed,
// the interrupted ones find their order (the fence), and every key has
// exactly one.
func (o *run) completeThenKill() {
	t := o.t
	for i := range 4 {
		key := fmt.Sprint("done-", i)
		o.record(key, settle(t, o.orders.url, key, body(0)))
	}
	o.wh.hold()
	cut := make([]string, 6)
	answers := make(chan answer, len(cut))
	var wg sync.WaitGroup
	for i := range cut {
		cut[i] = fmt.Sprint("cut-", i)
		wg.Go(func() { answers <- placeOrder(o.orders.url, cut[i], body(0)) })
	}
	o.awaitArrivals(cut)
	o.orders.kill()
	wg.Wait()
	close(answers)
	for a := range answers {
		if a.err == nil {
			t.Fatalf("a request in flight when the process was killed was answered: %d %s", a.status, a.body)
		}
	}
	o.wh.open()
	if n := rowsByKey(t, o.db); len(n) != 10 {
		t.Fatalf("before the retries: orders of %d keys, want 10 (every interrupted handler had placed its order): %v", len(n), n)
	}
	o.orders.start()
	for i := range 4 {
		key := fmt.Sprint("done-", i)
		a := settle(t, o.orders.url, key, body(1))
		o.wantSame(key, a, true)
	}
	for _, key := range cut {
		o.record(key, settle(t, o.orders.url, key, body(1)))
	}
	o.wantOneOrderPerKey(10)
}

// awaitArrivals waits until the warehouse has seen each of keys.
func (o *run) awaitArrivals(keys []string) {
	want := map[string]bool{}
	for _, k := range keys {
		want[k] = true
	}
	poll(o.t, 30e9, "the interrupted requests to reach the warehouse", func() bool {
		for {
			select {
			case k := <-o.wh.arrived:
				delete(want, k)
			default:
				return len(want) == 0
			}
		}
	})
}

// redisFlushed: Redis loses every claim and record (FLUSHALL). Each retry
// then runs the handler again, which finds its key's order: the same
// answer, from the fence, and still one order per key.
func (o *run) redisFlushed(r *redisOfItsOwn) {
	if err := r.node.Client().FlushAll(o.t.Context()).Err(); err != nil {
		o.t.Fatalf("FLUSHALL: %v", err)
	}
	for key := range o.first {
		o.wantSame(key, settle(o.t, o.orders.url, key, body(2)), false)
	}
	o.wantOneOrderPerKey(10)
}

// redisStopped: Redis is killed. Every request, new key or retry, is
// answered 503 with Retry-After and places nothing (the middleware fails
// closed). A new Redis (empty, as one restarted without persistence) takes
// its address: every key, the new ones too, then gets its one order.
func (o *run) redisStopped(r *redisOfItsOwn) {
	t := o.t
	r.node.Kill()
	keys := []string{"new-0", "new-1", "new-2", "done-0", "cut-0"}
	for round := range 3 {
		for _, key := range keys {
			a := placeOrder(o.orders.url, key, body(3))
			if a.err != nil || a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") == "" ||
				a.header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("round %d, %s with Redis down: %d %v %q %v, want 503 problem with Retry-After", round, key, a.status, a.header, a.body, a.err)
			}
		}
	}
	for _, key := range keys[:3] {
		if n := o.wh.reservations(key); n != 0 || rowsByKey(t, o.db)[key] != 0 {
			t.Fatalf("%s with Redis down: %d orders, %d reservations, want none", key, rowsByKey(t, o.db)[key], n)
		}
	}
	r.node = redistopo.StartNode(t)
	r.proxy.Retarget(r.node.Addr)
	for _, key := range keys[:3] {
		o.record(key, settle(t, o.orders.url, key, body(4)))
	}
	for key := range o.first { // the new Redis has records of the new keys only
		o.wantSame(key, settle(t, o.orders.url, key, body(5)), strings.HasPrefix(key, "new-"))
	}
	o.wantOneOrderPerKey(13)
}

// record keeps a as key's first 201 and checks it.
func (o *run) record(key string, a answer) {
	o.t.Helper()
	if _, ok := o.first[key]; ok {
		o.t.Fatalf("%s answered twice as first", key)
	}
	if !strings.HasPrefix(a.body, `{"id":`) || a.header.Get(idempotency.HeaderExpires) == "" {
		o.t.Fatalf("%s: 201 %v %q, want an order with %s", key, a.header, a.body, idempotency.HeaderExpires)
	}
	o.first[key] = a
}

// wantSame checks that a is key's first answer again, byte for byte, and
// a replay from the Store when replayed (from the handler's fence when
// the Store had lost it).
func (o *run) wantSame(key string, a answer, replayed bool) {
	o.t.Helper()
	first := o.first[key]
	if a.body != first.body || a.header.Get("Location") != first.header.Get("Location") {
		o.t.Fatalf("%s: retry answered %q at %s, want the first answer %q at %s", key, a.body, a.header.Get("Location"), first.body, first.header.Get("Location"))
	}
	if got := a.header.Get(idempotency.HeaderReplayed) == "true"; got != replayed {
		o.t.Fatalf("%s: retry replayed %v, want %v", key, got, replayed)
	}
	if a.header.Get(idempotency.HeaderExpires) == "" {
		o.t.Fatalf("%s: retry without %s", key, idempotency.HeaderExpires)
	}
}

// wantOneOrderPerKey checks that n keys placed one order each, and that
// the warehouse was asked to reserve each of them.
func (o *run) wantOneOrderPerKey(n int) {
	o.t.Helper()
	rows := rowsByKey(o.t, o.db)
	if len(rows) != n || len(o.first) != n {
		o.t.Fatalf("orders of %d keys, %d keys answered 201; want %d: %v", len(rows), len(o.first), n, rows)
	}
	for key := range o.first {
		if rows[key] != 1 || o.wh.reservations(key) == 0 {
			o.t.Fatalf("%s: %d orders, %d reservations; want 1 order, reserved", key, rows[key], o.wh.reservations(key))
		}
	}
}

// redisOfItsOwn is a redis-server of the test behind a fault proxy, so
// that a new server can take a killed one's address.
type redisOfItsOwn struct {
	node  *redistopo.Node
	proxy *faultproxy.Proxy
}

func startRedis(tb testing.TB) *redisOfItsOwn {
	tb.Helper()
	node := redistopo.StartNode(tb)
	p, err := faultproxy.New(node.Addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Close() })
	return &redisOfItsOwn{node: node, proxy: p}
}
