package groupcommit_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/idemsum/idemsum"
	"github.com/idemsum/idemsum/groupcommit"
	"github.com/idemsum/idemsum/idemsumtest"
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
	queued := make(chan struct{}, 4)
	groupcommit.OnQueued(a, func() { queued <- struct{}{} })
	done := make(chan error, 4)
	add := func() {
		_, err := a.Add(context.Background(), idemsum.Addition{Number: 1})
		done <- err
	}
	go add()
	<-l.Entered // the first batch, of one, holds the only flusher
	<-queued
	for range 3 {
		go add()
	}
	// The 3 callers wait, all queued (the Adder's loop may hold one while
	// it waits for the busy flusher): the next batch takes all three.
	for range 3 {
		<-queued
	}
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
