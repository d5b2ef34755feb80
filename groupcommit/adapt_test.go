package groupcommit_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idemsum/idemsum"
	"github.com/idemsum/idemsum/groupcommit"
	"github.com/idemsum/idemsum/idemsumtest"
)

// fakeClock is a clock on which every reading is step later than the
// last, so that every commit takes step; and the timers of batch waits,
// which fire only when the test says.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	step  time.Duration
	waits chan time.Duration // each wait asked for
	fire  chan time.Time     // what the timers return
}

func newFakeClock(step time.Duration) *fakeClock {
	return &fakeClock{now: time.Unix(0, 0), step: step, waits: make(chan time.Duration, 16), fire: make(chan time.Time)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(c.step)
	return c.now
}

// Advance moves the clock d on.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.waits <- d
	return c.fire
}

// addAsync starts an Add of key and returns its error's channel.
func addAsync(a *groupcommit.Adder, key string) <-chan error {
	errc := make(chan error, 1)
	go func() {
		_, err := a.Add(context.Background(), idemsum.Addition{Key: key, Number: 1})
		errc <- err
	}()
	return errc
}

// waitDrained polls until the Adder's queue is empty: its loop has taken
// every queued addition into the batch it is gathering.
func waitDrained(t *testing.T, a *groupcommit.Adder) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for groupcommit.Queued(a) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("queue not drained: %d additions still queued", groupcommit.Queued(a))
		}
		time.Sleep(time.Millisecond) // a poll with a deadline, not a wait for a condition
	}
}

// TestAdderIdleFlushesAtOnce: after a slow commit, an addition that finds
// the flusher free leaves at once, without waiting for a fuller batch:
// an idle service answers as fast as with adaptation off.
func TestAdderIdleFlushesAtOnce(t *testing.T) {
	t.Parallel()
	l := &idemsumtest.Ledger{}
	a := groupcommit.New(l, 8, 0, 1)
	defer a.Close()
	clock := newFakeClock(time.Hour) // every commit takes an hour
	groupcommit.SetClock(a, clock.Now, clock.After)
	for i := range 3 {
		if err := <-addAsync(a, string(rune('a'+i))); err != nil {
			t.Fatalf("add %d: %v", i, err)
		}
	}
	select {
	case d := <-clock.waits:
		t.Errorf("an idle Adder waited %v for a fuller batch, want no wait", d)
	default:
	}
	if got := len(l.Batches()); got != 3 {
		t.Errorf("batches: got %d, want 3", got)
	}
}

// TestAdderWaitsForFullerBatchWhenBusy: a batch formed while the flusher
// was busy waits half the last commit's time for more, and takes what
// arrives meanwhile.
func TestAdderWaitsForFullerBatchWhenBusy(t *testing.T) {
	t.Parallel()
	l := &idemsumtest.Ledger{Gate: make(chan struct{}), Entered: make(chan struct{}, 16)}
	a := groupcommit.New(l, 8, 0, 1)
	clock := newFakeClock(4 * time.Millisecond) // every commit takes 4 ms
	groupcommit.SetClock(a, clock.Now, clock.After)
	queued := make(chan struct{}, 16)
	groupcommit.OnQueued(a, func() { queued <- struct{}{} })
	waiting := make(chan struct{}, 16)
	groupcommit.OnWaiting(a, func() { waiting <- struct{}{} })

	errs := []<-chan error{addAsync(a, "first")} // takes the flusher, held at the gate
	<-l.Entered
	<-queued
	errs = append(errs, addAsync(a, "w1"), addAsync(a, "w2"))
	<-queued
	<-queued
	<-waiting            // the loop holds one of them, waiting for the flusher: busy
	l.Gate <- struct{}{} // "first" commits; "w1" and "w2" leave at once: the last batch was one
	<-l.Entered
	errs = append(errs, addAsync(a, "b"), addAsync(a, "c"))
	<-queued
	<-queued
	<-waiting
	l.Gate <- struct{}{} // "w1" and "w2" commit; "b" and "c" wait for more
	if got, want := <-clock.waits, 2*time.Millisecond; got != want {
		t.Errorf("wait for a fuller batch: got %v, want %v (half the last commit)", got, want)
	}
	errs = append(errs, addAsync(a, "d")) // arrives during the wait
	<-queued
	waitDrained(t, a)
	close(clock.fire) // the wait ends
	close(l.Gate)
	waitAdded(t, errs...)
	a.Close()
	wantBatches(t, l, []int{1, 2, 3})
}

// TestAdderWaitsForReturningCallers: the first caller back from a batch
// of several, arriving within a commit's time of its end, finds the
// flusher free but does not go alone: it waits for the others of its
// batch (here one) and leaves as soon as they are back.
func TestAdderWaitsForReturningCallers(t *testing.T) {
	t.Parallel()
	l := &idemsumtest.Ledger{Gate: make(chan struct{}), Entered: make(chan struct{}, 16)}
	a := groupcommit.New(l, 8, 0, 1)
	defer a.Close()
	clock := newFakeClock(0) // moves only when told
	groupcommit.SetClock(a, clock.Now, clock.After)
	queued := make(chan struct{}, 16)
	groupcommit.OnQueued(a, func() { queued <- struct{}{} })
	waiting := make(chan struct{}, 16)
	groupcommit.OnWaiting(a, func() { waiting <- struct{}{} })
	commit := func() { // let the batch held at the gate commit, taking 10 ms
		clock.Advance(10 * time.Millisecond)
		l.Gate <- struct{}{}
	}

	first := addAsync(a, "first")
	<-queued
	<-l.Entered
	b, c := addAsync(a, "b"), addAsync(a, "c")
	<-queued
	<-queued
	<-waiting
	commit() // "first"; "b" and "c" form a busy batch, at once: the last batch was one
	<-l.Entered
	commit() // "b" and "c"
	waitAdded(t, first, b, c)
	d := addAsync(a, "d") // back at once: the flusher is free
	if got, want := <-clock.waits, 5*time.Millisecond; got != want {
		t.Errorf("returning caller's wait: got %v, want %v", got, want)
	}
	e := addAsync(a, "e") // the other caller back: enough, no need for the timer
	<-l.Entered
	commit()
	waitAdded(t, d, e)
	wantBatches(t, l, []int{1, 2, 2})
}

// TestAdderShapeFollowsCommitTime: the batch limit grows by MaxSize per
// SlowCommit of the last commit, up to 16 × MaxSize; the wait of a busy
// batch, after a batch of several, is WaitShare of the last commit, at
// most MaxAdaptWait; a Fixed Adder keeps New's limit and wait.
func TestAdderShapeFollowsCommitTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		commit   time.Duration
		fixed    bool
		size     int
		busyWait time.Duration
	}{
		{time.Millisecond, false, 8, 500 * time.Microsecond},
		{12 * time.Millisecond, false, 16, 6 * time.Millisecond},
		{30 * time.Millisecond, false, 48, 15 * time.Millisecond},
		{time.Hour, false, 128, groupcommit.MaxAdaptWait},
		{time.Hour, true, 8, 0},
	}
	for _, tt := range tests {
		l := &idemsumtest.Ledger{}
		a := groupcommit.New(l, 8, 0, 1)
		a.Fixed = tt.fixed
		groupcommit.SetClock(a, newFakeClock(tt.commit).Now, time.After)
		if _, err := a.Add(context.Background(), idemsum.Addition{Number: 1}); err != nil {
			t.Fatal(err)
		}
		a.Close()
		groupcommit.SetLastSize(a, 2) // as if the last batch had formed under load
		size, bytes, idle := groupcommit.Shape(a, false)
		_, _, busy := groupcommit.Shape(a, true)
		if size != tt.size || bytes != groupcommit.MaxBatchBytes || idle != 0 || busy != tt.busyWait {
			t.Errorf("commit %v, fixed %v: got size %d, bytes %d, idle wait %v, busy wait %v; want %d, %d, 0, %v",
				tt.commit, tt.fixed, size, bytes, idle, busy, tt.size, groupcommit.MaxBatchBytes, tt.busyWait)
		}
	}
}

// TestAdderBoundsBatchBytes: additions whose keys would take a batch past
// MaxBatchBytes wait for the next batch.
func TestAdderBoundsBatchBytes(t *testing.T) {
	t.Parallel()
	l := &idemsumtest.Ledger{Gate: make(chan struct{}), Entered: make(chan struct{}, 16)}
	a := groupcommit.New(l, 64, 0, 1)
	queued := make(chan struct{}, 16)
	groupcommit.OnQueued(a, func() { queued <- struct{}{} })
	errs := []<-chan error{addAsync(a, "first")}
	<-l.Entered
	<-queued
	big := strings.Repeat("k", groupcommit.MaxBatchBytes*2/5) // two fit in a batch, three do not
	for _, k := range []string{big + "1", big + "2", big + "3"} {
		errs = append(errs, addAsync(a, k))
		<-queued
	}
	close(l.Gate)
	waitAdded(t, errs...)
	a.Close()
	wantBatches(t, l, []int{1, 2, 1})
}

// waitAdded waits for each addition's answer and fails on an error.
func waitAdded(t *testing.T, errs ...<-chan error) {
	t.Helper()
	for _, e := range errs {
		if err := <-e; err != nil {
			t.Fatalf("add: %v", err)
		}
	}
}

// wantBatches checks the sizes of the batches l committed, in order.
func wantBatches(t *testing.T, l *idemsumtest.Ledger, want []int) {
	t.Helper()
	var sizes []int
	for _, b := range l.Batches() {
		sizes = append(sizes, len(b))
	}
	if !slices.Equal(sizes, want) {
		t.Errorf("batch sizes got %v, want %v", sizes, want)
	}
}
