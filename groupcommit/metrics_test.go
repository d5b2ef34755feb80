package groupcommit_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"idemsum"
	"idemsum/groupcommit"
	"idemsum/idemsumtest"
)

// TestMetricsCountBatchSizes: idemsum_batch_size observes each batch's
// number of additions, so its sum is the additions flushed and its count
// the transactions.
func TestMetricsCountBatchSizes(t *testing.T) {
	t.Parallel()
	l := &idemsumtest.Ledger{Gate: make(chan struct{}), Entered: make(chan struct{}, 16)}
	a := groupcommit.New(l, 8, 0, 1)
	reg := prometheus.NewRegistry()
	a.Metrics = groupcommit.NewMetrics(reg)
	done := make(chan error, 4)
	add := func() {
		_, err := a.Add(context.Background(), idemsum.Addition{Number: 1})
		done <- err
	}
	go add()
	<-l.Entered // the first batch, of one, holds the only flusher
	for range 3 {
		go add()
	}
	// The 3 callers wait: 2 in the queue and one taken by the Adder's
	// loop, which waits for the busy flusher.
	waitFor(t, "2 additions queued", func() bool { return groupcommit.Queued(a) >= 2 })
	close(l.Gate)
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	a.Close()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) != 1 || mfs[0].GetName() != "idemsum_batch_size" {
		t.Fatalf("gathered %v, want idemsum_batch_size alone", mfs)
	}
	h := mfs[0].GetMetric()[0].GetHistogram()
	if h.GetSampleCount() != 2 || h.GetSampleSum() != 4 {
		t.Errorf("got %d batches of %v additions, want 2 batches (1, then 3) of 4", h.GetSampleCount(), h.GetSampleSum())
	}
}
