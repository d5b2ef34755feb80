package e2e_test

import (
	"fmt"
	"math/big"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idemsum/idemsum/e2e/harness"
)

// TestNginxFrontsThreeInstances runs deploy/nginx.conf, the configuration
// docs/operations.md ships (only its ports substituted), in front of three
// instances, and sends concurrent duplicates of every key through it.
func TestNginxFrontsThreeInstances(t *testing.T) {
	t.Parallel()
	nginx := harness.LookNginx(t)
	c := harness.StartCluster(t, harness.Options{Instances: 3})
	front := harness.StartNginx(t, nginx, c)

	keys := harness.NewKeys("nginx", 300)
	client := &http.Client{Timeout: 5 * time.Second}
	bodies := make([][]string, len(keys))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, k := range keys {
		for range 2 { // two concurrent copies of every key through nginx
			wg.Add(1)
			go func() {
				defer wg.Done()
				body := postUntil200(t, client, front, k)
				mu.Lock()
				bodies[i] = append(bodies[i], body)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	want := new(big.Int)
	type answer struct{ total, number *big.Int }
	var answers []answer
	for i, k := range keys {
		if bodies[i][0] != bodies[i][1] {
			t.Errorf("key %s: bodies %q and %q differ", k.Name, bodies[i][0], bodies[i][1])
		}
		total, err := harness.ParseTotal([]byte(bodies[i][0]))
		if err != nil {
			t.Fatalf("key %s: %v", k.Name, err)
		}
		n := new(big.Int).SetUint64(k.Number)
		want.Add(want, n)
		answers = append(answers, answer{total, n})
	}
	sort.Slice(answers, func(a, b int) bool { return answers[a].total.Cmp(answers[b].total) < 0 })
	prev := new(big.Int)
	for _, a := range answers {
		if before := new(big.Int).Sub(a.total, a.number); before.Cmp(prev) != 0 {
			t.Fatalf("not linearizable: total %s - number %s = %s, want the previous total %s", a.total, a.number, before, prev)
		}
		prev = a.total
	}
	req, _ := http.NewRequest(http.MethodGet, front.URL+"/sum", nil)
	resp, err := front.Do(client, req)
	if err != nil {
		t.Fatal(err)
	}
	if total, err := harness.ParseTotal(resp.Body); err != nil || total.Cmp(want) != 0 {
		t.Errorf("total through nginx got %v (%v), want %s: each key added exactly once", total, err, want)
	}
}

// postUntil200 adds k through front, retrying 409, 5xx and transport
// errors until a 200, and returns the body.
func postUntil200(t *testing.T, c *http.Client, front *harness.NginxFront, k harness.Key) string {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest(http.MethodPost, front.URL+"/sum", strings.NewReader(fmt.Sprintf(`{"number":%d}`, k.Number)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", k.Name)
		resp, err := front.Do(c, req)
		if err == nil && resp.Status == http.StatusOK {
			return string(resp.Body)
		}
		if err == nil && resp.Status < 500 && resp.Status != http.StatusConflict {
			t.Errorf("key %s: status %d %s", k.Name, resp.Status, resp.Body)
			return ""
		}
		time.Sleep(20 * time.Millisecond) // retry backoff
	}
	t.Errorf("key %s: no 200 within 30s", k.Name)
	return ""
}
