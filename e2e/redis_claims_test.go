package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idemsum/idemsum/e2e/harness"
)

// claim takes key's in-flight claim directly in Redis, the way an
// instance does (at redisstore.ClaimName, holding a token, with PX), so
// that the key is deterministically "being processed" for ttl.
func claim(t testing.TB, c *harness.Cluster, key string, ttl time.Duration) {
	t.Helper()
	ok, err := c.Redis.SetNX(t.Context(), c.ClaimName(key), "e2e-holder", ttl).Result()
	if err != nil || !ok {
		t.Fatalf("take the claim of %s: %v %v", key, ok, err)
	}
}

// holdClaim keeps key's claim taken until the returned release is called,
// renewing it every 100ms: a live holder that is still working. (A single
// claim with a longer expiry than the instances' lease is cut to one lease
// by the first instance that meets it: no claim blocks longer than that.)
func holdClaim(t testing.TB, c *harness.Cluster, key string) (release func()) {
	t.Helper()
	name := c.ClaimName(key)
	claim(t, c, key, harness.LeaseTTL)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				c.Redis.Del(context.Background(), name)
				return
			case <-tick.C:
				c.Redis.Set(context.Background(), name, "e2e-holder", harness.LeaseTTL)
			}
		}
	}()
	return func() { close(stop); <-done }
}

// TestKeyReuseAndInFlight runs with -redis-claims: it holds keys in
// flight by planting claims, which instances without claims never look at
// (their duplicates in flight wait in MySQL; see duplicates_test.go).
func TestKeyReuseAndInFlight(t *testing.T) {
	t.Parallel()
	s := harness.StartScenario(t, harness.Options{Instances: 3, Args: []string{"-redis-claims"}})
	c, res := s.C, s.Res
	keys := harness.NewKeys("reuse", harness.LoadKeys)
	s.Run(keys, 90*time.Second)
	t.Log(s.Summary())

	t.Run("reused with another number", func(t *testing.T) {
		// Half of the keys lose their Redis record first, so that their 422
		// must come from the MySQL ledger.
		for i, k := range keys {
			if i%2 == 0 {
				c.Redis.Del(t.Context(), c.RecordName(k.Name))
			}
		}
		var wg sync.WaitGroup
		work := make(chan int)
		for range 12 {
			wg.Go(func() {
				for i := range work {
					k := keys[i]
					in := c.Instances[(i+1)%len(c.Instances)]
					resp, err := harness.SendOne(t.Context(), harness.Client, in, harness.Key{Name: k.Name, Number: k.Number + 1 + uint64(i%3)})
					if err != nil {
						t.Errorf("reuse %s on %s: %v", k.Name, in.Name, err)
						continue
					}
					harness.CheckProblem(t, fmt.Sprintf("key %s reused with another number on %s (record in Redis: %v)", k.Name, in.Name, i%2 == 1), resp, http.StatusUnprocessableEntity)
				}
			})
		}
		for i := range keys {
			work <- i
		}
		close(work)
		wg.Wait()
	})

	t.Run("in flight", func(t *testing.T) {
		for _, k := range harness.NewKeys("inflight", 10) {
			claim(t, c, k.Name, 5*time.Second)
			for _, in := range c.Instances {
				for _, n := range []uint64{k.Number, k.Number + 1} {
					resp, err := harness.SendOne(t.Context(), harness.Client, in, harness.Key{Name: k.Name, Number: n})
					if err != nil {
						t.Fatalf("POST %s on %s: %v", k.Name, in.Name, err)
					}
					name := fmt.Sprintf("key %s in flight, number %d, on %s", k.Name, n, in.Name)
					harness.CheckProblem(t, name, resp, http.StatusConflict)
					if _, err := harness.RetryAfter(resp); err != nil || resp.Header.Get("Retry-After") == "" {
						t.Errorf("%s: %v", name, err)
					}
				}
			}
			c.Redis.Del(t.Context(), c.ClaimName(k.Name)) // released without a record
			resp, err := harness.SendOne(t.Context(), harness.Client, c.Instances[0], k)
			if err != nil {
				t.Fatalf("POST %s after the release: %v", k.Name, err)
			}
			harness.Want200(t, res, k, 0, "after the claim was released", resp, false)
		}
	})

	t.Run("claim expires", func(t *testing.T) {
		// A holder that died leaves its claim; within the lease the key is
		// usable again and adds once (docs/design.md#invariants, 6: no
		// stuck keys).
		const lease = 1500 * time.Millisecond
		var wg sync.WaitGroup
		for i, k := range harness.NewKeys("expiry", 5) {
			claim(t, c, k.Name, lease)
			expires := time.Now().Add(lease) // Redis's expiry of the claim is no later
			wg.Go(func() { awaitExpiry(t, c, res, k, i, expires) })
		}
		wg.Wait()
	})

	t.Run("Prefer wait", func(t *testing.T) {
		k := harness.NewKeys("prefer", 1)[0]
		release := holdClaim(t, c, k.Name)
		// A short wait runs out while the claim lives: still 409.
		resp := postPrefer(t, c.Instances[1], k, "wait=1")
		harness.CheckProblem(t, "Prefer: wait=1 on a key held throughout", resp, http.StatusConflict)
		// A long wait sees the claim released and takes it over.
		released := make(chan time.Time, 1)
		go func() {
			time.Sleep(300 * time.Millisecond)
			release()
			released <- time.Now()
		}()
		resp = postPrefer(t, c.Instances[2], k, "wait=4")
		done := time.Now()
		harness.Want200(t, res, k, 2, "Prefer: wait=4, claim released after 300ms", resp, false)
		// The 200 itself shows that the waiter saw the release within its
		// wait (one that missed it would answer 409 when the wait ran out);
		// how soon after the release is the machine's business.
		if at := <-released; done.Before(at) {
			t.Errorf("Prefer: wait=4: answered %v before the release, want after it", at.Sub(done))
		}
		if got := resp.Header.Get("Preference-Applied"); !strings.HasPrefix(got, "wait") {
			t.Errorf("Prefer: wait=4: got Preference-Applied %q, want wait=...", got)
		}
	})

	t.Run("conflicts are not logged as errors", func(t *testing.T) {
		for _, in := range c.Instances {
			var errs []string
			for _, line := range strings.Split(in.Log(), "\n") {
				if strings.Contains(line, `"level":"ERROR"`) {
					errs = append(errs, line)
				}
			}
			if len(errs) > 0 {
				t.Errorf("%s logged %d lines at level ERROR although nothing failed (only 409 and 422 answers), e.g.:\n%s",
					in.Name, len(errs), strings.Join(errs[:min(3, len(errs))], "\n"))
			}
		}
	})
	s.Check()
}

// postPrefer posts k to in with a Prefer header.
func postPrefer(t testing.TB, in *harness.Instance, k harness.Key, prefer string) *harness.Response {
	t.Helper()
	h := harness.Hdr("Idempotency-Key", k.Name, "Prefer", prefer)
	return harness.Call(t, in, "POST", "/sum", h, "application/json", fmt.Sprintf(`{"number":%d}`, k.Number))
}

// awaitExpiry polls k, claimed by a holder that never comes back until
// expires (an upper bound of Redis's expiry of the claim, which the
// instances may only shorten), until a 200: it must be refused (409)
// first, and no attempt sent after expires may be refused, however long
// the attempts take on a loaded machine: the claim is gone then.
func awaitExpiry(t testing.TB, c *harness.Cluster, res *harness.Results, k harness.Key, first int, expires time.Time) {
	conflicts, inst := 0, 0
	var resp *harness.Response
	var err error
	var late time.Duration // how long after expires the last refused attempt was sent
	done := harness.WaitFor(t.Context(), time.Minute, func() bool {
		inst = (first + conflicts) % len(c.Instances)
		sent := time.Now()
		resp, err = harness.SendOne(t.Context(), harness.Client, c.Instances[inst], k)
		if err != nil || resp.Status != http.StatusConflict {
			return true
		}
		conflicts++
		late = max(late, sent.Sub(expires))
		return false
	})
	switch {
	case !done:
		t.Errorf("key %s: still refused (409) a minute after its claim expired", k.Name)
		return
	case err != nil:
		t.Errorf("POST %s: %v", k.Name, err)
		return
	}
	harness.Want200(t, res, k, inst, "after the claim expired", resp, false)
	if conflicts == 0 {
		t.Errorf("key %s: a 200 at once, want 409 while its claim lives", k.Name)
	}
	if late > 0 {
		t.Errorf("key %s: an attempt sent %v after its claim expired was refused (409), want the key usable once the claim is gone", k.Name, late.Round(time.Millisecond))
	}
}

// TestClaimExpiresUnderStalledHolder makes two cases of
// docs/design.md#invariants happen on purpose: a claim that expired while
// its holder still ran (1) and a stalled instance (7). Instance A claims
// keys and sends their transactions, and its own MySQL proxy then either
// holds the transactions themselves (blackholed: A is stalled before
// MySQL saw anything) or delays every chunk by replyDelay (MySQL commits
// what A sent, and its reply takes replyDelay to come back, so A looks
// stalled to it; what A queued behind stays in A). A's claims expire and
// B takes the keys over: B must answer at once, without waiting on a lock
// A holds, and the unique key must make one of the two the adder and the
// other a byte-identical replay. It runs with -redis-claims (without
// claims nothing waits for a lease: B takes the keys at once, which the
// SIGSTOP tests, instance_*_test.go, cover).
func TestClaimExpiresUnderStalledHolder(t *testing.T) {
	t.Parallel()
	s := harness.StartScenario(t, harness.Options{Instances: 2, MySQLProxyEach: true, Args: []string{"-redis-claims"}})
	c, res := s.C, s.Res
	s.Run(harness.NewKeys("holder-load", harness.LoadKeys), 90*time.Second)
	t.Log(s.Summary())

	a := c.Instances[0]
	t.Run("transaction held", func(t *testing.T) {
		stallHolder(t, c, res, harness.NewKeys("held", 20), func() { a.MySQLProxy.Blackhole(true) }, false)
	})
	t.Run("reply held", func(t *testing.T) {
		stallHolder(t, c, res, harness.NewKeys("replyheld", 20), func() { a.MySQLProxy.SetLatency(replyDelay) }, true)
	})
	harness.CheckHealed(t, c, res)
	s.Check()
}

// replyDelay is the latency of A's MySQL proxy in the "reply held" case:
// A's first transaction reaches MySQL after replyDelay and commits, and
// the reply takes replyDelay more, while A's claims (harness.LeaseTTL) expire and
// B takes the keys over; what A queued behind waits for that reply, so
// it reaches MySQL no sooner than 3 × replyDelay. Less than the 5s the
// test waits for the commit.
const replyDelay = 2 * time.Second

// stallHolder runs one case of TestClaimExpiresUnderStalledHolder with
// instances 0 (A, the stalled holder) and 1 (B); stall stalls A's MySQL
// proxy, and reaches tells whether MySQL still gets what A sends.
func stallHolder(t *testing.T, c *harness.Cluster, res *harness.Results, keys []harness.Key, stall func(), reaches bool) {
	a, b := c.Instances[0], c.Instances[1]
	stall()
	defer a.MySQLProxy.Heal()
	answers := make([]chan *harness.Response, len(keys))
	slow := &http.Client{Timeout: 30 * time.Second}
	for i, k := range keys {
		answers[i] = make(chan *harness.Response, 1)
		go func() {
			resp, err := harness.SendOne(context.Background(), slow, a, k)
			if err != nil {
				resp = &harness.Response{Body: []byte(err.Error())}
			}
			answers[i] <- resp
		}()
	}
	if !harness.WaitFor(t.Context(), 5*time.Second, claimed(t, c, keys, true)) {
		t.Fatalf("%s did not claim all %d keys", a.Name, len(keys))
	}
	if reaches && !harness.WaitFor(t.Context(), 5*time.Second, func() bool { return len(inLedger(t, c, keys)) > 0 }) {
		t.Fatalf("MySQL committed none of the transactions %s sent", a.Name)
	}
	if !harness.WaitFor(t.Context(), 3*harness.LeaseTTL, claimed(t, c, keys, false)) {
		t.Fatalf("the claims of the stalled %s did not expire within %v", a.Name, 3*harness.LeaseTTL)
	}
	committed := inLedger(t, c, keys) // by A, whose replies are held
	if !reaches && len(committed) > 0 {
		t.Fatalf("%d of %s's keys are in the ledger although its transactions are held", len(committed), a.Name)
	}
	t.Logf("%d of %d keys committed by %s before its claims expired", len(committed), len(keys), a.Name)
	fast := &http.Client{Timeout: harness.ClientTimeout}
	bodies := map[string][]byte{}
	for _, k := range append(keys, harness.NewKeys("fresh", 1)...) {
		t0 := time.Now()
		resp, err := harness.SendOne(t.Context(), fast, b, k)
		if err != nil {
			t.Fatalf("POST %s on %s while %s is stalled: %v (after %v)", k.Name, b.Name, a.Name, err, time.Since(t0))
		}
		harness.Want200(t, res, k, 1, "key taken over by "+b.Name, resp, committed[k.Name])
		bodies[k.Name] = resp.Body
	}
	a.MySQLProxy.Heal()
	for i, k := range keys {
		var resp *harness.Response
		select {
		case resp = <-answers[i]:
		case <-time.After(20 * time.Second):
			t.Fatalf("%s did not answer %s once its MySQL came back", a.Name, k.Name)
		}
		harness.Want200(t, res, k, 0, "the stalled holder's answer", resp, !committed[k.Name])
		if !bytes.Equal(resp.Body, bodies[k.Name]) {
			t.Errorf("key %s: the stalled %s answered %q, %s %q", k.Name, a.Name, resp.Body, b.Name, bodies[k.Name])
		}
	}
}

// inLedger returns which of keys have a committed ledger row.
func inLedger(t testing.TB, c *harness.Cluster, keys []harness.Key) map[string]bool {
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = k.Name
	}
	q := "SELECT idem_key FROM sum_ledger WHERE idem_key IN (?" + strings.Repeat(", ?", len(keys)-1) + ")"
	rows, err := c.DB.QueryContext(t.Context(), q, args...)
	if err != nil {
		t.Fatalf("read ledger rows: %v", err)
	}
	defer rows.Close()
	in := map[string]bool{}
	for rows.Next() {
		var k []byte
		if err := rows.Scan(&k); err != nil {
			t.Fatalf("read ledger rows: %v", err)
		}
		in[string(k)] = true
	}
	return in
}

// claimed returns a condition: every key's claim exists in Redis (want),
// or none does.
func claimed(t testing.TB, c *harness.Cluster, keys []harness.Key, want bool) func() bool {
	return func() bool {
		for _, k := range keys {
			n, err := c.Redis.Exists(t.Context(), c.ClaimName(k.Name)).Result()
			if err != nil || (n == 1) != want {
				return false
			}
		}
		return true
	}
}
