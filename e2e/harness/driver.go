package harness

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// errGaveUp marks a Send that ran out of time without a 200.
var errGaveUp = errors.New("gave up")

// ClientTimeout bounds one HTTP attempt, so that a frozen instance costs a
// client this long and no more.
const ClientTimeout = 2 * time.Second

// Stats are the Driver's counters.
type Stats struct {
	Sends, OK, Replayed, Conflicts, Unavailable, TransportErrs, Other atomic.Int64
}

// String writes the counters on one line.
func (s *Stats) String() string {
	return fmt.Sprintf("sends=%d ok=%d replayed=%d 409=%d 503=%d transport-errors=%d other=%d",
		s.Sends.Load(), s.OK.Load(), s.Replayed.Load(), s.Conflicts.Load(), s.Unavailable.Load(), s.TransportErrs.Load(), s.Other.Load())
}

// Driver sends keyed additions to a Cluster from a pool of workers. Each
// key is sent Dup times at once, each copy first to a different instance;
// every copy retries 409, 503, transport errors and timeouts, on another
// instance, until it gets a 200 or GiveUp passes.
type Driver struct {
	c   *Cluster
	res *Results
	// Client makes the attempts: its Timeout is ClientTimeout, so that a
	// frozen instance costs an attempt that long; a test may change it
	// (or its Transport) before Go.
	Client  *http.Client
	Dup     int
	Workers int
	GiveUp  time.Duration

	Stats    Stats
	Resolved atomic.Int64   // keys whose every copy finished
	Inflight []atomic.Int64 // attempts in flight, per instance
	Total    int            // keys given to Go
}

// NewDriver returns a Driver of c that records into res.
func NewDriver(t testing.TB, c *Cluster, res *Results) *Driver {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: ClientTimeout}).DialContext,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &Driver{
		c: c, res: res,
		Client:   &http.Client{Timeout: ClientTimeout, Transport: tr},
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
			ra, err := RetryAfter(resp)
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
	resp, err := in.Do(d.Client, req)
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
