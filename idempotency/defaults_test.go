package idempotency_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idemsum/idemsum/idempotency"
	"github.com/idemsum/idemsum/idempotency/idempotencytest"
)

// The defaults a service gets from Middleware(&Guard{Store: s}) without
// choosing anything: each test here is about what happens to a handler
// that has no durable fence of its own.

// downStore fails every call, as a Store whose backend cannot be reached.
var downStore = funcStore{
	get:     func(context.Context, string) (idempotency.Record, error) { return idempotency.Record{}, errBackend },
	claim:   func(context.Context, string, time.Duration) (string, error) { return "", errBackend },
	release: func(context.Context, string, string) error { return errBackend },
	put:     func(context.Context, string, idempotency.Record, time.Duration) error { return errBackend },
}

// TestMiddlewareFailsClosedByDefault: while the Store cannot be reached,
// the handler never runs (it has no fence: running it would pay twice);
// every request, the first and those during the Backoff after it, gets
// 503 with Retry-After.
func TestMiddlewareFailsClosedByDefault(t *testing.T) {
	t.Parallel()
	e := &echo{}
	h := idempotency.Middleware(&idempotency.Guard{Store: downStore, Backoff: time.Hour})(e)
	for i := range 3 {
		w := serve(h, http.MethodPost, "/orders", "2 books", "k")
		wantProblem(t, w, http.StatusServiceUnavailable)
		if ra, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || ra < 1 {
			t.Fatalf("request %d: Retry-After %q, want a number of seconds", i, w.Header().Get("Retry-After"))
		}
	}
	wantRuns(t, e, 0)
}

// TestMiddlewareRecordsWhatARetryMustGetAgain: the default record policy
// replays results and the refusals that follow from what the fingerprint
// covers; a status that depends on credentials, time, load or state is not
// recorded, so a retry with the same key runs the handler again (it made
// no effect) instead of being told the old answer for the key's lifetime.
func TestMiddlewareRecordsWhatARetryMustGetAgain(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status   int
		recorded bool
	}{
		{200, true}, {201, true}, {204, true}, {303, true},
		{400, true}, {404, true}, {405, true}, {410, true}, {413, true}, {414, true}, {422, true},
		{401, false}, {403, false}, {406, false}, {408, false}, {409, false}, {411, false}, {412, false},
		{415, false}, {425, false}, {428, false}, {429, false}, {451, false},
		{500, false}, {502, false}, {503, false}, {504, false},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.status), func(t *testing.T) {
			t.Parallel()
			e := &echo{}
			h := idempotency.Middleware(newMemGuard())(e)
			body := fmt.Sprintf("status=%d", tt.status)
			serve(h, http.MethodPost, "/orders", body, "k")
			again := serve(h, http.MethodPost, "/orders", body, "k")
			wantStatus(t, again, tt.status)
			runs, replayed := int32(2), ""
			if tt.recorded {
				runs, replayed = 1, "true"
			}
			wantRuns(t, e, runs)
			if got := again.Header().Get("Idempotent-Replayed"); got != replayed {
				t.Fatalf("second answer: Idempotent-Replayed %q, want %q", got, replayed)
			}
		})
	}
}

// TestMiddlewareNotRecordedRunsAgain: a first try refused with 429 (the
// handler was rate-limited) leaves the key free; the retry, the same
// request, runs the handler, and its 201 is what the key keeps.
func TestMiddlewareNotRecordedRunsAgain(t *testing.T) {
	t.Parallel()
	var runs atomic.Int32
	limited := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if runs.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, "order 1")
	})
	h := idempotency.Middleware(newMemGuard())(limited)
	wantStatus(t, serve(h, http.MethodPost, "/orders", "2 books", "k"), http.StatusTooManyRequests)
	wantStatus(t, serve(h, http.MethodPost, "/orders", "2 books", "k"), http.StatusCreated)
	again := serve(h, http.MethodPost, "/orders", "2 books", "k")
	wantStatus(t, again, http.StatusCreated)
	if again.Header().Get("Idempotent-Replayed") != "true" || again.Body.String() != "order 1" {
		t.Fatalf("third request: %q replayed %q, want the 201 replayed", again.Body, again.Header().Get("Idempotent-Replayed"))
	}
	if runs.Load() != 2 {
		t.Fatalf("handler ran %d times, want 2", runs.Load())
	}
}

// TestMiddlewarePublishesExpiry: every recorded answer and every replay
// says until when the key is remembered (its first record plus the
// Guard's TTL, as an HTTP-date); an answer that is not recorded says
// nothing, since the key is not remembered.
func TestMiddlewarePublishesExpiry(t *testing.T) {
	t.Parallel()
	clock := idempotencytest.NewClock(time.Date(2030, 1, 2, 3, 4, 5, 600e6, time.UTC))
	g := &idempotency.Guard{Store: idempotencytest.NewMemStore(clock.Now), TTL: 6 * time.Hour, Now: clock.Now}
	h := idempotency.Middleware(g)(&echo{})
	want := "Wed, 02 Jan 2030 09:04:05 GMT"
	first := serve(h, http.MethodPost, "/orders", "x", "k")
	clock.Advance(time.Hour)
	again := serve(h, http.MethodPost, "/orders", "x", "k")
	for name, w := range map[string]*httptest.ResponseRecorder{"first answer": first, "replay": again} {
		if got := w.Header().Get("Idempotency-Key-Expires"); got != want {
			t.Errorf("%s: Idempotency-Key-Expires %q, want %q", name, got, want)
		}
	}
	notRecorded := serve(h, http.MethodPost, "/orders", "status=503", "k2")
	if got := notRecorded.Header().Values("Idempotency-Key-Expires"); len(got) != 0 {
		t.Errorf("an answer that was not recorded: Idempotency-Key-Expires %q, want none", got)
	}
}
