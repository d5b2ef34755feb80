package server_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/idemsum/idemsum"
	"github.com/idemsum/idemsum/idempotency"
	"github.com/idemsum/idemsum/server"
)

// problemBody decodes rec's problem body.
func problemBody(tb testing.TB, rec *httptest.ResponseRecorder) map[string]any {
	tb.Helper()
	var p map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		tb.Fatalf("problem body %q: got error %v, want JSON", rec.Body.String(), err)
	}
	return p
}

// assertOutcome checks that rec is a 503 problem of type
// urn:idemsum:problem:<problem> whose outcome member is outcome, and whose
// detail keeps the words that clients older than the member read: a
// not-added one says "nothing was added" and never "outcome is unknown",
// an unknown one says "or the outcome is unknown".
func assertOutcome(tb testing.TB, rec *httptest.ResponseRecorder, problem, outcome string) {
	tb.Helper()
	assertProblem(tb, rec, http.StatusServiceUnavailable)
	assertRetryAfter(tb, rec)
	p := problemBody(tb, rec)
	if got, want := p["type"], "urn:idemsum:problem:"+problem; got != want {
		tb.Errorf("type: got %v, want %v", got, want)
	}
	if got := p["outcome"]; got != outcome {
		tb.Errorf("outcome: got %v, want %v", got, outcome)
	}
	detail, _ := p["detail"].(string)
	switch {
	case outcome == "not-added" && (!strings.Contains(detail, "nothing was added") || strings.Contains(detail, "outcome is unknown")):
		tb.Errorf("detail: got %q, want \"nothing was added\" without \"outcome is unknown\"", detail)
	case outcome == "unknown" && !strings.Contains(detail, "or the outcome is unknown"):
		tb.Errorf("detail: got %q, want it to contain \"or the outcome is unknown\"", detail)
	}
	if strings.Contains(detail, "10.0.0.7") {
		tb.Errorf("detail: got %q, want no internal detail", detail)
	}
}

// TestStorageFailureOutcomes: a storage failure of an addition is 503
// outcome-unknown (outcome "unknown") unless the ledger says nothing was
// added (EUNAVAILABLE: 503 unavailable, "not-added"); a failed read is
// always 503 unavailable, "not-added", whatever the error, since a read
// adds nothing.
func TestStorageFailureOutcomes(t *testing.T) {
	t.Parallel()
	notAdded := errors.Join(errDown, idemsum.Errorf(idemsum.EUNAVAILABLE, "storage is unavailable; nothing was added: retrying is safe"))
	errs := []struct {
		name     string
		err      error
		addition [2]string // problem and outcome of an addition
	}{
		{"unclassified", errDown, [2]string{"outcome-unknown", "unknown"}},
		{"unclassified, wrapped", fmt.Errorf("add 1: %w", errDown), [2]string{"outcome-unknown", "unknown"}},
		{"nothing added", notAdded, [2]string{"unavailable", "not-added"}},
		{"nothing added, with its cause", idemsum.Unavailable(errDown), [2]string{"unavailable", "not-added"}},
		{"nothing added, wrapped", fmt.Errorf("add 1: gave up after 16 conflicts: %w", notAdded), [2]string{"unavailable", "not-added"}},
		{"shutting down", idemsum.Errorf(idemsum.EUNAVAILABLE, "shutting down; nothing was added"), [2]string{"unavailable", "not-added"}},
		{"unknown, coded", errors.Join(errDown, idemsum.Errorf(idemsum.EUNKNOWN, "the outcome is unknown; nothing was added, or the outcome is unknown")), [2]string{"outcome-unknown", "unknown"}},
	}
	requests := []struct {
		name string
		req  request
		adds bool
	}{
		{"POST /sum keyless", request{method: http.MethodPost, target: "/sum?number=5"}, true},
		{"POST /sum keyed", request{method: http.MethodPost, target: "/sum?number=5"}.withKey("K"), true},
		{"GET legacy", request{method: http.MethodGet, target: "/test-sum-action?ikey=K&number=5"}, true},
		{"POST legacy", formBody("/test-sum-action", "ikey=K&number=5"), true},
		{"GET /sum", request{method: http.MethodGet, target: "/sum"}, false},
		{"POST /sum without a number", request{method: http.MethodPost, target: "/sum"}.withKey("K"), false},
		{"GET legacy without a number", request{method: http.MethodGet, target: "/test-sum-action?ikey=K"}, false},
	}
	for _, mode := range storeModes {
		for _, e := range errs {
			for _, r := range requests {
				t.Run(mode.name+"/"+e.name+"/"+r.name, func(t *testing.T) {
					t.Parallel()
					l := newLedger()
					l.SetErr(e.err)
					rec := serve(t, newHandler(t, l, mode.store()), r.req)
					want := e.addition
					if !r.adds {
						want = [2]string{"unavailable", "not-added"}
					}
					assertOutcome(t, rec, want[0], want[1])
				})
			}
		}
	}
}

// TestEveryProblemHasAnOutcome: 4xx problems are "not-added" (assertProblem
// checks it for every problem of the server tests), and a 500 (a panic
// below the edge) is "unknown": the addition may have been sent.
func TestEveryProblemHasAnOutcome(t *testing.T) {
	t.Parallel()
	l := panicLedger{"boom"}
	d := deps(newLedger(), nil)
	d.Service = &server.Service{Adder: idemsum.Unbatched(l), Ledger: l, Guard: d.Service.Guard}
	rec := serve(t, server.NewServer(d), request{method: http.MethodPost, target: "/sum?number=5"})
	assertProblem(t, rec, http.StatusInternalServerError)
	if got := problemBody(t, rec)["outcome"]; got != "unknown" {
		t.Errorf("outcome of a 500: got %v, want unknown", got)
	}
}

// TestStoreDownFailingClosed: a Guard that fails closed when its Store is
// down (idempotency.FailClosed) adds nothing, and the answer says so: 503
// unavailable, outcome not-added (sumd runs unguarded instead, but the
// edge must answer right whichever the Guard chose).
func TestStoreDownFailingClosed(t *testing.T) {
	t.Parallel()
	l, s := newLedger(), newStore()
	s.down = errors.New("redis: connection refused to 10.0.0.7:6379")
	d := deps(l, s)
	d.Service.Guard.StoreDown = idempotency.FailClosed
	rec := serve(t, server.NewServer(d), formBody("/sum", "number=5").withKey("k"))
	assertOutcome(t, rec, "unavailable", "not-added")
	if adds, _ := l.seen(); len(adds) != 0 {
		t.Errorf("additions: got %v, want none", adds)
	}
}
