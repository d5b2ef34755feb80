package e2e_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"idemsum/internal/testenv"
)

// errGaveUp marks a Send that ran out of time without a 200.
var errGaveUp = errors.New("gave up")

// clientTimeout bounds one HTTP attempt, so that a frozen instance costs a
// client this long and no more.
const clientTimeout = 2 * time.Second

// Key is an idempotency key and the number sent with it.
type Key struct {
	Name   string
	Number uint64
}

// newKeys returns n keys named after the test with random numbers in
// 1..1e12, large enough that a double addition shows in the total.
func newKeys(tag string, n int) []Key {
	u := testenv.Unique()
	keys := make([]Key, n)
	for i := range keys {
		keys[i] = Key{Name: fmt.Sprintf("e2e-%s-%s-%d", tag, u, i), Number: 1 + rand.Uint64N(1e12)}
	}
	return keys
}

// Attempt is one HTTP exchange of a Send.
type Attempt struct {
	Inst       int
	Start, End time.Time
	Status     int // 0: transport error or timeout
	Err        string
}

// Send is one copy of a key's request, retried until a 200 or a deadline.
type Send struct {
	Copy       int
	Start, End time.Time
	Attempts   []*Attempt // an attempt is listed from its start; End is zero while in flight
	OK         bool
	Body       []byte
	Replayed   bool
	Inst       int    // the instance that answered 200
	Fail       string // why the Send failed, when !OK
}

// Uncertain reports whether an attempt of s may have added without the
// client seeing a 200: a transport error, a timeout or a 5xx.
func (s *Send) Uncertain() bool {
	for _, a := range s.Attempts {
		if a.Status == 0 || a.Status >= 500 {
			return true
		}
	}
	return false
}

// KeyState is a key with every Send made for it.
type KeyState struct {
	Key
	Sends []*Send
}

// Results are the outcomes of every keyed addition a test made, through
// the Driver or recorded by hand. Safe for concurrent use.
type Results struct {
	mu     sync.Mutex
	keys   []*KeyState
	byName map[string]*KeyState
}

func newResults() *Results { return &Results{byName: map[string]*KeyState{}} }

// state returns k's KeyState, adding it if new.
func (r *Results) state(k Key) *KeyState {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ks, ok := r.byName[k.Name]; ok {
		if ks.Number != k.Number {
			panic("results: key " + k.Name + " recorded with two numbers")
		}
		return ks
	}
	ks := &KeyState{Key: k}
	r.keys = append(r.keys, ks)
	r.byName[k.Name] = ks
	return ks
}

// Record adds a 200 response to k, obtained outside the Driver.
func (r *Results) Record(k Key, inst int, resp *Response) {
	ks := r.state(k)
	now := time.Now()
	s := &Send{Start: now, End: now, OK: true, Body: resp.Body, Replayed: resp.Replayed, Inst: inst}
	s.Attempts = []*Attempt{{Inst: inst, Start: now, End: now, Status: resp.Status}}
	r.mu.Lock()
	ks.Sends = append(ks.Sends, s)
	r.mu.Unlock()
}

// RecordUnseen adds to k a Send whose first attempt, made at sent, was
// never read by the client (an outcome unknown to it), and whose retry
// got resp from instance inst.
func (r *Results) RecordUnseen(k Key, inst int, sent time.Time, resp *Response) {
	ks := r.state(k)
	now := time.Now()
	s := &Send{Start: sent, End: now, OK: resp.Status == http.StatusOK, Body: resp.Body, Replayed: resp.Replayed, Inst: inst}
	if !s.OK {
		s.Fail = fmt.Sprintf("retry: status %d", resp.Status)
	}
	s.Attempts = []*Attempt{
		{Inst: inst, Start: sent, End: now, Err: "response never read"},
		{Inst: inst, Start: now, End: now, Status: resp.Status},
	}
	r.mu.Lock()
	ks.Sends = append(ks.Sends, s)
	r.mu.Unlock()
}

// Merge adds every key of o, with its Sends, to r.
func (r *Results) Merge(o *Results) {
	o.Each(func(ks *KeyState) {
		mine := r.state(ks.Key)
		r.mu.Lock()
		mine.Sends = append(mine.Sends, ks.Sends...)
		r.mu.Unlock()
	})
}

// Each calls f for every key under the lock; f must not call r.
func (r *Results) Each(f func(*KeyState)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ks := range r.keys {
		f(ks)
	}
}

// Len returns the number of keys.
func (r *Results) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.keys)
}

// Stats are the Driver's counters.
type Stats struct {
	Sends, OK, Replayed, Conflicts, Unavailable, TransportErrs, Other atomic.Int64
}

func (s *Stats) String() string {
	return fmt.Sprintf("sends=%d ok=%d replayed=%d 409=%d 503=%d transport-errors=%d other=%d",
		s.Sends.Load(), s.OK.Load(), s.Replayed.Load(), s.Conflicts.Load(), s.Unavailable.Load(), s.TransportErrs.Load(), s.Other.Load())
}

// Driver sends keyed additions to a Cluster from a pool of workers. Each
// key is sent Dup times at once, each copy first to a different instance;
// every copy retries 409, 503, transport errors and timeouts, on another
// instance, until it gets a 200 or GiveUp passes.
type Driver struct {
	c       *Cluster
	res     *Results
	client  *http.Client
	Dup     int
	Workers int
	GiveUp  time.Duration

	Stats    Stats
	Resolved atomic.Int64   // keys whose every copy finished
	Inflight []atomic.Int64 // attempts in flight, per instance
	Total    int            // keys given to Go
}

// newDriver returns a Driver of c that records into res.
func newDriver(t testing.TB, c *Cluster, res *Results) *Driver {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: clientTimeout}).DialContext,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &Driver{
		c: c, res: res,
		client:   &http.Client{Timeout: clientTimeout, Transport: tr},
		Dup:      2,
		Workers:  12,
		GiveUp:   45 * time.Second,
		Inflight: make([]atomic.Int64, len(c.Instances)),
	}
}

// Go starts sending keys and returns a channel closed when all are done.
func (d *Driver) Go(keys []Key) <-chan struct{} {
	d.Total += len(keys)
	work := make(chan int)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range d.Workers {
		wg.Go(func() {
			for i := range work {
				d.SendKey(keys[i], i%len(d.c.Instances))
				d.Resolved.Add(1)
			}
		})
	}
	go func() {
		for i := range keys {
			work <- i
		}
		close(work)
		wg.Wait()
		close(done)
	}()
	return done
}

// Progress returns the fraction of keys given to Go that are resolved.
func (d *Driver) Progress() float64 {
	return float64(d.Resolved.Load()) / float64(max(1, d.Total))
}

// SendKey sends k Dup times at once, copy j first to instance first+j,
// and waits for every copy.
func (d *Driver) SendKey(k Key, first int) {
	ks := d.res.state(k)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for j := range d.Dup {
		s := &Send{Copy: j}
		d.res.mu.Lock()
		ks.Sends = append(ks.Sends, s)
		d.res.mu.Unlock()
		wg.Go(func() {
			<-start
			d.send(k, s, (first+j)%len(d.c.Instances))
		})
	}
	close(start)
	wg.Wait()
}

// send retries one copy until a 200, an unexpected status, or GiveUp.
func (d *Driver) send(k Key, s *Send, inst int) {
	d.Stats.Sends.Add(1)
	d.update(func() { s.Start = time.Now() })
	deadline := time.Now().Add(d.GiveUp)
	body := []byte(fmt.Sprintf(`{"number":%d}`, k.Number))
	suspect := map[int]bool{} // instances that failed at transport level
	backoff := 10 * time.Millisecond
	for {
		a, resp := d.attempt(s, inst, k.Name, body)
		wait := backoff
		switch a.Status {
		case http.StatusOK:
			d.finish(s, a, resp)
			return
		case http.StatusConflict, http.StatusServiceUnavailable:
			ra, err := retryAfter(resp)
			if err != nil {
				d.fail(s, fmt.Sprintf("status %d from %s: %v", a.Status, d.c.Instances[a.Inst].Name, err))
				return
			}
			wait = min(wait, ra)
		case 0:
			suspect[inst] = true
		default:
			d.Stats.Other.Add(1)
			d.fail(s, fmt.Sprintf("unexpected status %d from %s: %s", a.Status, d.c.Instances[a.Inst].Name, resp.Body))
			return
		}
		if time.Now().Add(wait).After(deadline) {
			d.fail(s, fmt.Sprintf("%v after %d attempts; last: status %d %s", errGaveUp, len(s.Attempts), a.Status, a.Err))
			return
		}
		time.Sleep(wait/2 + rand.N(wait/2+1))
		backoff = min(2*backoff, 250*time.Millisecond)
		inst = d.next(inst, suspect)
	}
}

// next picks the instance after inst that has not failed this Send at
// transport level, or any if all have.
func (d *Driver) next(inst int, suspect map[int]bool) int {
	n := len(d.c.Instances)
	for i := 1; i <= n; i++ {
		if j := (inst + i) % n; !suspect[j] {
			return j
		}
	}
	clear(suspect)
	return (inst + 1) % n
}

func (d *Driver) update(f func()) {
	d.res.mu.Lock()
	defer d.res.mu.Unlock()
	f()
}

func (d *Driver) finish(s *Send, a *Attempt, resp *Response) {
	d.Stats.OK.Add(1)
	if resp.Replayed {
		d.Stats.Replayed.Add(1)
	}
	d.update(func() {
		s.OK, s.Body, s.Replayed, s.Inst, s.End = true, resp.Body, resp.Replayed, a.Inst, time.Now()
	})
}

func (d *Driver) fail(s *Send, why string) {
	d.update(func() { s.Fail, s.End = why, time.Now() })
}

// attempt makes one POST /sum to instance inst for s, listing it in
// s.Attempts from its start.
func (d *Driver) attempt(s *Send, inst int, key string, body []byte) (*Attempt, *Response) {
	in := d.c.Instances[inst]
	d.Inflight[inst].Add(1)
	defer d.Inflight[inst].Add(-1)
	a := &Attempt{Inst: inst, Start: time.Now()}
	d.update(func() { s.Attempts = append(s.Attempts, a) })
	req, _ := http.NewRequest(http.MethodPost, in.URL()+"/sum", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := do(d.client, req)
	d.update(func() {
		a.End = time.Now()
		if err == nil {
			a.Status = resp.Status
		} else {
			a.Err = err.Error()
		}
	})
	if err != nil {
		d.Stats.TransportErrs.Add(1)
		return a, nil
	}
	switch resp.Status {
	case http.StatusConflict:
		d.Stats.Conflicts.Add(1)
	case http.StatusServiceUnavailable:
		d.Stats.Unavailable.Add(1)
	}
	return a, resp
}

// Response is a response read in full.
type Response struct {
	Status   int
	Header   http.Header
	Body     []byte
	Replayed bool
}

// do sends req and reads the whole response.
func do(c *http.Client, req *http.Request) (resp *Response, err error) {
	reqBody := requestBody(req)
	defer func() {
		if err == nil {
			checkAPI(req, reqBody, resp)
		}
	}()
	hr, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer hr.Body.Close()
	body, err := io.ReadAll(io.LimitReader(hr.Body, 1<<16))
	if err != nil {
		return nil, err
	}
	return &Response{
		Status:   hr.StatusCode,
		Header:   hr.Header,
		Body:     body,
		Replayed: hr.Header.Get("Idempotent-Replayed") == "true",
	}, nil
}

// retryAfter parses the Retry-After header (delay-seconds) that 409 and
// 503 must carry.
func retryAfter(resp *Response) (time.Duration, error) {
	v := resp.Header.Get("Retry-After")
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("Retry-After %q: want delay-seconds", v)
	}
	return time.Duration(n) * time.Second, nil
}

// sendOne posts {"number": k.Number} with key k.Name to in once.
func sendOne(ctx context.Context, c *http.Client, in *Instance, k Key) (*Response, error) {
	body := fmt.Sprintf(`{"number":%d}`, k.Number)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.URL()+"/sum", bytes.NewReader([]byte(body)))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", k.Name)
	return do(c, req)
}
