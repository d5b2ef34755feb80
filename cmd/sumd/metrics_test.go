package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// TestMetricsOfTheWiredService checks the metrics sumd registers beyond the
// HTTP edge's: batch sizes, Redis state, fence replays, runtime collectors.
func TestMetricsOfTheWiredService(t *testing.T) {
	t.Parallel()
	in := start(t)
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			resp, err := http.Post(fmt.Sprintf("%s/sum?key=m%d&number=1", in.URL, i), "", nil)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
		}(i)
	}
	wg.Wait()
	resp, err := http.Get(in.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	text := string(body)
	for _, want := range []string{
		"idemsum_batch_size_sum 40",
		"idemsum_redis_up 1",
		"idemsum_fence_replays_total 0",
		"idemsum_lease_overruns_total 0",
		"idemsum_keys_purged_total 0",
		`idemsum_requests_total{outcome="added",route="POST /sum"} 40`,
		"idemsum_request_duration_seconds_bucket",
		"go_goroutines",
		"process_resident_memory_bytes",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
