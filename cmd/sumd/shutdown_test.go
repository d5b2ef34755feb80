package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/idemsum/idemsum/internal/testenv"
)

// TestShutdownLosesNoAcknowledgedAddition stops sumd (as on SIGTERM) in
// the middle of a load and checks that every addition answered 200 is in
// MySQL, that the total is the sum of the recorded additions, and that no
// claim is left behind in Redis.
func TestShutdownLosesNoAcknowledgedAddition(t *testing.T) {
	t.Parallel()
	dsn := testenv.MySQL(t)
	rdb, prefix := testenv.Redis(t)
	in := startWith(t, dsn, prefix)

	var mu sync.Mutex
	acked := map[string]uint64{}
	var n atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second}
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key, number := fmt.Sprintf("w%d-%d", w, i), uint64(w*1000+i+1)
				req, _ := http.NewRequest(http.MethodPost, in.URL+"/sum", strings.NewReader(fmt.Sprintf(`{"number":%d}`, number)))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Idempotency-Key", key)
				resp, err := client.Do(req)
				if err != nil {
					return // the server is gone
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					mu.Lock()
					acked[key] = number
					mu.Unlock()
					n.Add(1)
				}
			}
		}(w)
	}
	eventually(30*time.Second, func() bool { return n.Load() >= 300 }) // checked below, after the stop
	if err := in.stop(t); err != nil {
		t.Errorf("run returned %v, want a clean shutdown", err)
	}
	close(stop)
	wg.Wait()
	if n.Load() < 300 {
		t.Fatalf("only %d additions acknowledged before the deadline", n.Load())
	}

	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for key, number := range acked {
		var got uint64
		if err := db.QueryRow("SELECT number FROM sum_ledger WHERE idem_key = ?", key).Scan(&got); err != nil || got != number {
			t.Fatalf("acknowledged key %s: got number %d (%v), want %d", key, got, err, number)
		}
	}
	var total, sum string
	if err := db.QueryRow("SELECT t.total, (SELECT COALESCE(SUM(number), 0) FROM sum_ledger) FROM sum_total t WHERE id = 1").Scan(&total, &sum); err != nil {
		t.Fatal(err)
	}
	if total != sum {
		t.Errorf("total got %s, want the sum of recorded additions %s", total, sum)
	}
	claims, err := rdb.Keys(context.Background(), prefix+"*:claim:*").Result() // prefix, deployment id, claim:K
	if err != nil || len(claims) != 0 {
		t.Errorf("claims left in Redis after shutdown: %v (%v)", claims, err)
	}
	t.Logf("%d additions acknowledged before shutdown; total %s", len(acked), total)
}
