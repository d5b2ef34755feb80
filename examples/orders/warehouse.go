package orders

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/idemsum/idemsum/idempotency"
)

// A Warehouse reserves the items of an order. Reserve is idempotent by
// key: a second call with the same key reserves nothing more. That is
// what lets a retry of POST /orders call it again safely.
type Warehouse interface {
	Reserve(ctx context.Context, key string, o Order) error
}

// HTTPWarehouse is a warehouse service at URL: Reserve sends POST
// URL/reservations with the order and, in Idempotency-Key, the key of the
// request that placed it.
type HTTPWarehouse struct {
	URL    string
	Client *http.Client // nil means a client with a 10 s timeout
}

var defaultClient = &http.Client{Timeout: 10 * time.Second}

// Reserve asks the warehouse to reserve o's items; any answer but 2xx is
// an error.
func (w *HTTPWarehouse) Reserve(ctx context.Context, key string, o Order) error {
	body, _ := json.Marshal(o)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL+"/reservations", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(idempotency.HeaderKey, idempotency.FormatHeader(key))
	c := w.Client
	if c == nil {
		c = defaultClient
	}
	res, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("warehouse: %w", err)
	}
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("warehouse: %s", res.Status)
	}
	return nil
}

// FakeWarehouse stands in for a slow warehouse in the same process: each
// Reserve takes Delay, and a key reserves once.
type FakeWarehouse struct {
	Delay time.Duration

	mu   sync.Mutex
	keys map[string]Order
}

// Reserve waits Delay (or until ctx is done), then records the key.
func (w *FakeWarehouse) Reserve(ctx context.Context, key string, o Order) error {
	t := time.NewTimer(w.Delay)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.keys == nil {
		w.keys = map[string]Order{}
	}
	if _, ok := w.keys[key]; !ok {
		w.keys[key] = o
	}
	return nil
}
