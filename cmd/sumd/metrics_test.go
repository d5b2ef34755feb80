package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idemsum/idemsum/internal/testenv"
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

// TestReplaysComeFromTheBatchCache checks the wiring of the record cache
// in front of the ledger (the default, without -redis-claims): a key's
// record is stored in Redis after its batch, and a retry is answered from
// it without reaching MySQL (no fence replay), as a hit.
func TestReplaysComeFromTheBatchCache(t *testing.T) {
	t.Parallel()
	in := start(t)
	url := fmt.Sprintf("%s/sum?key=cache-%s&number=7", in.URL, testenv.Unique())
	post := func() (string, string) {
		resp, err := http.Post(url, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST: %d %s", resp.StatusCode, body)
		}
		return string(body), resp.Header.Get("Idempotent-Replayed")
	}
	metrics := func() string {
		resp, err := http.Get(in.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}
	first, _ := post()
	if !testenv.Eventually(10*time.Second, func() bool { return strings.Contains(metrics(), `idemsum_cache_keys_total{result="stored"} 1`) }) {
		t.Fatalf("the record was not stored after its batch:\n%s", metrics())
	}
	again, replayed := post()
	if again != first || replayed != "true" {
		t.Fatalf("retry answered %q (replayed %q), want the first answer %q replayed", again, replayed, first)
	}
	text := metrics()
	for _, want := range []string{
		`idemsum_cache_keys_total{result="hit"} 1`,
		`idemsum_cache_keys_total{result="miss"} 1`,
		"idemsum_fence_replays_total 0",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
