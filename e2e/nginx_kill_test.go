package e2e_test

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idemsum/idemsum/e2e/harness"
)

// The load of TestNginxNeverResendsAnAddition. Every number it sends is
// resendUnit + a residue, distinct and random below resendResidues, so
// that any run of k additions sums to k·resendUnit + the sum of their k
// residues, and a difference of totals tells how many additions it holds
// (the residues of even 3×resendMax additions stay below resendUnit).
const (
	resendUnit     = 1 << 40
	resendResidues = 1 << 24
	resendMax      = 6000 // requests at most; the kills end the load first
	resendWorkers  = 6
	resendKills    = 7
	resendEvery    = 1800 * time.Millisecond // between kills
	resendMySQLLag = 10 * time.Millisecond   // each way, instances to MySQL
)

// TestNginxNeverResendsAnAddition sends keyless legacy GETs
// (/test-sum-action?number=N, which add) through deploy/nginx.conf while
// instances are killed and restarted, and checks that no request was
// added more often than its client sent it (docs/design.md#invariants,
// 9): a
// proxy that re-sends a request whose first instance committed and died
// before answering makes it add twice, while its client sees one 200.
//
// A keyless request whose answer was lost (an error, a 502) may or may
// not have been added, so the total alone cannot tell. The 200s can: each
// carries the total right after its own addition (invariant 2), so sorted
// by total they show the serial order of additions, with gaps where
// additions nobody saw an answer for lie. With a sound proxy only the
// requests without a 200 ("uncertain") can fill the gaps, each at most
// once; a re-send fills one with the first, unanswered, addition of a
// request that then got its 200 from another instance. The numbers make
// each gap readable (k additions and the sum of their residues), and
// every gap must be k distinct residues of uncertain requests. A sound
// proxy always passes (the true requests fill each gap); a re-send passes
// only if random residues of uncertain requests happen to sum to exactly
// the same 24-bit value. MySQL replies come late (resendMySQLLag), so
// most requests a kill catches have committed and wait for the reply.
//
// The client does not reuse connections: Go's http.Client re-sends a GET
// itself when a reused connection fails before the answer.
func TestNginxNeverResendsAnAddition(t *testing.T) {
	t.Parallel()
	nginx := harness.LookNginx(t)
	c := harness.StartCluster(t, harness.Options{Instances: 3, MySQLProxy: true})
	c.PinPorts()
	front := harness.StartNginx(t, nginx, c)
	before := harness.GetTotal(t, c.Instances[0])
	c.MySQLProxy.SetLatency(resendMySQLLag)

	load := startResendLoad(front)
	killAndRestart(t, c, load)
	sent := load.stop()
	c.MySQLProxy.SetLatency(0)
	after := harness.GetTotal(t, c.Instances[0])

	extra, uncertain := checkNoResend(t, sent, before, after)
	resent, lost := nginxResends(t, front)
	t.Logf("%d keyless GETs, %d without a 200; %d additions without a 200; "+
		"nginx passed %d adding requests to a second instance, %d after an instance took one and died",
		len(sent), uncertain, extra, resent, lost)
}

// killAndRestart kills the instances in turn, resendKills times in all,
// resendEvery apart and only while the load makes progress, restarting
// each at once on the same port.
func killAndRestart(t *testing.T, c *harness.Cluster, load *resendLoad) {
	t.Helper()
	for i := range resendKills {
		last, answered := time.Now(), load.answered.Load()
		ok := harness.WaitFor(t.Context(), resendEvery+15*time.Second, func() bool {
			return time.Since(last) >= resendEvery && load.answered.Load() >= answered+20
		})
		if !ok {
			load.stop()
			t.Fatalf("kill %d: fewer than 20 answers through nginx in %v", i, time.Since(last))
		}
		in := c.Instances[i%len(c.Instances)]
		in.Kill()
		in.Restart()
	}
}

// resendOutcome is what the client learnt of one request.
type resendOutcome struct {
	number uint64
	status int      // 0: no answer (a transport error)
	total  *big.Int // with a 200
}

// resendLoad is resendWorkers clients sending keyless GETs, one at a time
// each, with the numbers of the outcomes slots they take in turn.
type resendLoad struct {
	outcomes []resendOutcome
	next     atomic.Int64 // the next slot to take
	answered atomic.Int64 // requests done, with or without an answer
	done     chan struct{}
	wg       sync.WaitGroup
	once     sync.Once
}

func startResendLoad(front *harness.NginxFront) *resendLoad {
	l := &resendLoad{outcomes: make([]resendOutcome, resendMax), done: make(chan struct{})}
	seen := map[uint64]bool{}
	for i := range l.outcomes {
		r := 1 + rand.Uint64N(resendResidues-1)
		for seen[r] {
			r = 1 + rand.Uint64N(resendResidues-1)
		}
		seen[r] = true
		l.outcomes[i].number = resendUnit + r
	}
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{DisableKeepAlives: true},
	}
	for range resendWorkers {
		l.wg.Add(1)
		go l.work(client, front)
	}
	return l
}

func (l *resendLoad) work(client *http.Client, front *harness.NginxFront) {
	defer l.wg.Done()
	for {
		select {
		case <-l.done:
			return
		default:
		}
		i := int(l.next.Add(1) - 1)
		if i >= len(l.outcomes) {
			return
		}
		o := &l.outcomes[i]
		resp, err := front.Do(client, mustRequest(fmt.Sprintf("%s/test-sum-action?number=%d", front.URL, o.number)))
		if err == nil {
			o.status = resp.Status
			if resp.Status == http.StatusOK {
				o.total, _ = harness.ParseTotal(resp.Body)
			}
		}
		l.answered.Add(1)
	}
}

func mustRequest(url string) *http.Request {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		panic(err)
	}
	return req
}

// stop ends the load, waits for the requests in flight, and returns the
// outcomes of the requests sent (every slot taken was sent).
func (l *resendLoad) stop() []resendOutcome {
	l.once.Do(func() { close(l.done) })
	l.wg.Wait()
	return l.outcomes[:min(int(l.next.Load()), len(l.outcomes))]
}

// checkNoResend checks that the total moved from before to after by the
// numbers of the 200s plus, in each gap between them, distinct uncertain
// requests, and returns how many additions the gaps hold and how many
// requests were uncertain.
func checkNoResend(t *testing.T, sent []resendOutcome, before, after *big.Int) (extra, uncertain int) {
	t.Helper()
	oks, residues := classify(t, sent)
	var bad []string
	for _, g := range gaps(t, oks, before, after) {
		extra += g.k
		if !fills(residues, g.k, g.sum) {
			bad = append(bad, fmt.Sprintf("before %s: %d additions (residues %d) that no %d requests without a 200 make up%s",
				g.what, g.k, g.sum, g.k, answeredAgain(oks, g)))
		}
	}
	if extra > len(residues) {
		t.Errorf("%d additions got no 200, but only %d requests went without one", extra, len(residues))
	}
	if len(bad) > 0 {
		t.Errorf("%d gaps between 200s hold additions no client was left without an answer for (a re-send adds twice):\n%s",
			len(bad), strings.Join(bad[:min(len(bad), 10)], "\n"))
	}
	over := new(big.Int).Sub(after, before) // minus every number sent, each at most once
	for _, o := range sent {
		over.Sub(over, new(big.Int).SetUint64(o.number))
	}
	if over.Sign() > 0 {
		t.Errorf("the total moved by %s more than all the numbers sent, each once", over)
	}
	return extra, len(residues)
}

// classify returns the 200s of sent, sorted by total, and the residues of
// the uncertain requests (no answer or a 5xx), ascending.
func classify(t *testing.T, sent []resendOutcome) (oks []resendOutcome, residues []uint64) {
	t.Helper()
	for _, o := range sent {
		switch {
		case o.status == http.StatusOK && o.total != nil:
			oks = append(oks, o)
		case o.status == 0 || o.status >= 500:
			residues = append(residues, o.number-resendUnit)
		default:
			t.Errorf("number %d: got status %d, want 200, a 5xx or no answer", o.number, o.status)
		}
	}
	slices.Sort(residues)
	slices.SortFunc(oks, func(a, b resendOutcome) int { return a.total.Cmp(b.total) })
	return oks, residues
}

// resendGap is a run of additions no 200 answered: k of them, whose
// residues sum to sum, before what.
type resendGap struct {
	k    int
	sum  uint64
	what string
}

// gaps returns the gaps before each of oks and after the last, up to the
// total after.
func gaps(t *testing.T, oks []resendOutcome, before, after *big.Int) []resendGap {
	t.Helper()
	var gs []resendGap
	prev := before
	for i := range len(oks) + 1 {
		end, what := after, "the final total"
		if i < len(oks) {
			end = new(big.Int).Sub(oks[i].total, new(big.Int).SetUint64(oks[i].number))
			what = fmt.Sprintf("the 200 of %d (total %s)", oks[i].number, oks[i].total)
		}
		gap := new(big.Int).Sub(end, prev)
		if gap.Sign() < 0 || !gap.IsUint64() {
			t.Fatalf("not linearizable: before %s, %s - %s = %s", what, end, prev, gap)
		}
		if gap.Sign() > 0 {
			gs = append(gs, resendGap{int(gap.Uint64() / resendUnit), gap.Uint64() % resendUnit, what})
		}
		if i < len(oks) {
			prev = oks[i].total
		}
	}
	return gs
}

// answeredAgain names, for a gap of one addition, the request that got a
// 200 whose number it is: one added once unanswered and once with a 200.
func answeredAgain(oks []resendOutcome, g resendGap) string {
	if g.k != 1 {
		return ""
	}
	for _, o := range oks {
		if o.number-resendUnit == g.sum {
			return fmt.Sprintf("; it is %d, answered with the total %s", o.number, o.total)
		}
	}
	return ""
}

// fills reports whether k distinct values of vs, which ascend, sum to sum.
func fills(vs []uint64, k int, sum uint64) bool {
	if k == 0 || len(vs) < k {
		return k == 0 && sum == 0
	}
	var top uint64 // the largest sum of k values
	for _, v := range vs[len(vs)-k:] {
		top += v
	}
	if top < sum {
		return false
	}
	for i, v := range vs[:len(vs)-k+1] {
		if v*uint64(k) > sum { // the k values would all be v or more
			return false
		}
		if fills(vs[i+1:], k-1, sum-v) {
			return true
		}
	}
	return false
}

// nginxResends counts, from front's logs, the adding requests nginx passed
// to more than one instance, and the times it lost the answer to one after
// the instance had taken it (the ones a re-send can add twice).
func nginxResends(t *testing.T, front *harness.NginxFront) (resent, lost int) {
	t.Helper()
	access, err := os.ReadFile(front.AccessLog)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(access), "\n") {
		if strings.HasPrefix(line, "GET /test-sum-action ") && strings.Contains(line, ", ") {
			resent++
		}
	}
	errs, err := os.ReadFile(front.ErrorLog)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(errs), "\n") {
		if strings.Contains(line, "[error]") && strings.Contains(line, "/test-sum-action") &&
			strings.Contains(line, "while reading response header from upstream") {
			lost++
		}
	}
	return resent, lost
}
