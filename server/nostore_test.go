package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/idemsum/idemsum/server"
)

// TestNoStore checks that every response of /sum and /test-sum-action,
// success or problem, says Cache-Control: no-store.
func TestNoStore(t *testing.T) {
	t.Parallel()
	add := request{method: http.MethodPost, target: "/sum?number=5"}.withKey("k")
	tests := []struct {
		name   string
		setup  func(*fakeLedger, *fakeStore)
		before []request // sent first, on the same handler
		req    request
		status int
		also   string // a header the response must have too, if any
	}{
		{"POST /sum adds", nil, nil, add, http.StatusOK, ""},
		{"POST /sum replays", nil, []request{add}, add, http.StatusOK, "Idempotent-Replayed"},
		{"POST /sum reads", nil, nil, request{method: http.MethodPost, target: "/sum"}, http.StatusOK, ""},
		{"GET /sum", nil, nil, request{method: http.MethodGet, target: "/sum"}, http.StatusOK, ""},
		{"HEAD /sum", nil, nil, request{method: http.MethodHead, target: "/sum"}, http.StatusOK, ""},
		{"GET legacy", nil, nil, request{method: http.MethodGet, target: "/test-sum-action?ikey=k&number=5"}, http.StatusOK, ""},
		{"POST legacy", nil, nil, request{method: http.MethodPost, target: "/test-sum-action?ikey=k&number=5"}, http.StatusOK, ""},

		{"POST /sum invalid number", nil, nil, request{method: http.MethodPost, target: "/sum?number=0"}, http.StatusBadRequest, ""},
		{"GET /sum with number", nil, nil, request{method: http.MethodGet, target: "/sum?number=5"}, http.StatusBadRequest, ""},
		{"GET legacy invalid ikey", nil, nil, request{method: http.MethodGet, target: "/test-sum-action?ikey=&number=5"}, http.StatusBadRequest, ""},
		{"POST /sum body too large", nil, nil, jsonBody("/sum", strings.Repeat(" ", server.MaxBody+1)), http.StatusRequestEntityTooLarge, ""},
		{"POST /sum unsupported body", nil, nil, request{method: http.MethodPost, target: "/sum", ctype: "text/plain", body: "5"}, http.StatusUnsupportedMediaType, ""},
		{"POST /sum in flight", func(_ *fakeLedger, s *fakeStore) { s.inFlight = true }, nil, add, http.StatusConflict, "Retry-After"},
		{"POST /sum key reused", nil, []request{add}, request{method: http.MethodPost, target: "/sum?number=6"}.withKey("k"), http.StatusUnprocessableEntity, ""},
		{"POST /sum MySQL down", func(l *fakeLedger, _ *fakeStore) { l.SetErr(errDown) }, nil, add, http.StatusServiceUnavailable, "Retry-After"},
		{"GET /sum MySQL down", func(l *fakeLedger, _ *fakeStore) { l.SetErr(errDown) }, nil, request{method: http.MethodGet, target: "/sum"}, http.StatusServiceUnavailable, "Retry-After"},
		{"PUT /sum", nil, nil, request{method: http.MethodPut, target: "/sum?number=5"}, http.StatusMethodNotAllowed, "Allow"},
		{"HEAD legacy", nil, nil, request{method: http.MethodHead, target: "/test-sum-action?ikey=k&number=5"}, http.StatusMethodNotAllowed, "Allow"},
		{"DELETE legacy", nil, nil, request{method: http.MethodDelete, target: "/test-sum-action?ikey=k&number=5"}, http.StatusMethodNotAllowed, "Allow"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l, s := newLedger(), newStore()
			if tc.setup != nil {
				tc.setup(l, s)
			}
			h := newHandler(t, l, s)
			for _, r := range tc.before {
				serve(t, h, r)
			}
			rec := serve(t, h, tc.req)
			if rec.Code != tc.status {
				t.Errorf("status: got %d, want %d (body %q)", rec.Code, tc.status, rec.Body.String())
			}
			if tc.also != "" && rec.Header().Get(tc.also) == "" {
				t.Errorf("%s: got none, want one", tc.also)
			}
			if got := rec.Header().Values("Cache-Control"); len(got) != 1 || got[0] != "no-store" {
				t.Errorf("Cache-Control: got %q, want %q", got, "no-store")
			}
		})
	}
}
