package e2e_test

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/idemsum/idemsum/e2e/harness"
	"github.com/idemsum/idemsum/internal/testenv"
)

// originCase is one browser-like request of TestCrossOriginWrites.
type originCase struct {
	name    string
	inst    int
	route   string // "form", "json", "legacy GET", "legacy POST" or "read"
	headers []string
	allowed bool
}

// originRequest returns the request of route adding k, with headers
// (name, value pairs); "SELF" in a value is the instance's own origin.
func originRequest(in *harness.Instance, route string, k harness.Key, headers []string) harness.Request {
	q := "?ikey=" + url.QueryEscape(k.Name) + "&number=" + fmt.Sprint(k.Number)
	var r harness.Request
	switch route {
	case "form": // what an HTML <form method=post> sends
		r = harness.Request{Method: http.MethodPost, Target: "/sum", CType: "application/x-www-form-urlencoded",
			Body: "number=" + fmt.Sprint(k.Number) + "&key=" + url.QueryEscape(k.Name)}
	case "json":
		r = harness.Request{Method: http.MethodPost, Target: "/sum", CType: "application/json", Body: fmt.Sprintf(`{"number":%d}`, k.Number),
			Header: http.Header{"Idempotency-Key": {k.Name}}}
	case "legacy GET":
		r = harness.Request{Method: http.MethodGet, Target: "/test-sum-action" + q}
	case "legacy POST":
		r = harness.Request{Method: http.MethodPost, Target: "/test-sum-action" + q}
	case "read":
		r = harness.Request{Method: http.MethodGet, Target: "/sum"}
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r = r.With(headers[i], strings.ReplaceAll(headers[i+1], "SELF", in.URL()))
	}
	return r
}

// TestCrossOriginWrites runs two instances, the second with
// -allowed-origins https://app.example, and sends them what browsers send
// for pages of other sites (a form posted from https://evil.example, a
// link or image to the legacy URL, whose GET adds): each such request
// that could add must be 403 problem cross-origin and leave no trace, so
// that its key then adds afresh; the service's own origin, an allowed
// origin, a URL typed in the address bar (Sec-Fetch-Site: none) and
// requests without browser headers (curl, servers) add; a cross-site read
// of GET /sum is allowed, since it changes nothing.
func TestCrossOriginWrites(t *testing.T) {
	t.Parallel()
	c := harness.StartCluster(t, harness.Options{Instances: 2, InstanceArgs: map[int][]string{1: {"-allowed-origins", "https://app.example"}}})
	evil := []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}
	cases := []originCase{
		{"form from another site", 0, "form", evil, false},
		{"form from another site, Origin only", 0, "form", []string{"Origin", "https://evil.example"}, false},
		{"form from a sibling subdomain", 0, "form", []string{"Origin", "https://a.example", "Sec-Fetch-Site", "same-site"}, false},
		{"fetch JSON from another site", 0, "json", evil, false},
		{"legacy GET (link, img) from another site", 0, "legacy GET", []string{"Sec-Fetch-Site", "cross-site"}, false},
		{"legacy GET, Origin only", 0, "legacy GET", []string{"Origin", "https://evil.example"}, false},
		{"legacy POST from another site", 0, "legacy POST", evil, false},
		{"Origin of another port", 0, "form", []string{"Origin", "http://127.0.0.1:1"}, false},
		{"another site on the instance with an allow-list", 1, "form", evil, false},
		{"legacy GET from another site, allow-list", 1, "legacy GET", []string{"Sec-Fetch-Site", "cross-site"}, false},

		{"form of the service's own page (Origin)", 0, "form", []string{"Origin", "SELF"}, true},
		{"form of the service's own page (Sec-Fetch-Site)", 0, "form", []string{"Origin", "SELF", "Sec-Fetch-Site", "same-origin"}, true},
		{"legacy GET typed in the address bar", 0, "legacy GET", []string{"Sec-Fetch-Site", "none"}, true},
		{"form without browser headers (curl)", 0, "form", nil, true},
		{"legacy GET without browser headers", 0, "legacy GET", nil, true},
		{"JSON of an allowed origin", 1, "json", []string{"Origin", "https://app.example", "Sec-Fetch-Site", "cross-site"}, true},
		{"form of an allowed origin", 1, "form", []string{"Origin", "https://app.example", "Sec-Fetch-Site", "cross-site"}, true},
		{"legacy POST of an allowed origin", 1, "legacy POST", []string{"Origin", "https://app.example", "Sec-Fetch-Site", "cross-site"}, true},
		{"read from another site", 0, "read", evil, true},
		{"read from another site, allow-list", 1, "read", evil, true},
	}
	u := testenv.Unique()
	want := harness.MySQLTotal(t, c)
	refused := make([]int, len(c.Instances))
	var keys []harness.Key
	for i, tc := range cases {
		in := c.Instances[tc.inst]
		k := harness.Key{Name: fmt.Sprintf("e2e-origin-%s-%d", u, i), Number: 1 + rand.Uint64N(1e12)}
		resp := originRequest(in, tc.route, k, tc.headers).Send(t, in)
		what := fmt.Sprintf("%s on %s", tc.name, in.Name)
		switch {
		case !tc.allowed:
			harness.CheckProblem(t, what, resp, http.StatusForbidden)
			checkProblemType(t, what, resp, "urn:idemsum:problem:cross-origin")
			refused[tc.inst]++
			keys = append(keys, k)
		case tc.route == "read":
			if resp.Status != http.StatusOK || string(resp.Body) != fmt.Sprintf("{\"total\":%v}\n", want) {
				t.Errorf("%s: status %d body %q, want 200 {\"total\":%v}", what, resp.Status, resp.Body, want)
			}
		default:
			want.Add(want, new(big.Int).SetUint64(k.Number))
			if resp.Status != http.StatusOK || resp.Replayed || string(resp.Body) != fmt.Sprintf("{\"total\":%v}\n", want) {
				t.Errorf("%s: status %d replayed=%v body %q, want 200 fresh {\"total\":%v}", what, resp.Status, resp.Replayed, resp.Body, want)
			}
		}
	}
	byName := map[string]harness.Key{}
	for _, k := range keys {
		byName[k.Name] = k
	}
	checkNoTrace(t, c, byName, want, "after the cross-origin requests")
	for i, in := range c.Instances {
		if got := harness.Metrics(t, in)[`idemsum_auth_denied_total{reason="cross_origin"}`]; got != float64(refused[i]) {
			t.Errorf("%s: idemsum_auth_denied_total{reason=\"cross_origin\"} = %v, want %d", in.Name, got, refused[i])
		}
	}
	// The refused keys were not claimed: sent without browser headers,
	// each is a fresh addition.
	for _, k := range keys {
		resp := originRequest(c.Instances[0], "json", k, nil).Send(t, c.Instances[0])
		want.Add(want, new(big.Int).SetUint64(k.Number))
		if resp.Status != http.StatusOK || resp.Replayed || string(resp.Body) != fmt.Sprintf("{\"total\":%v}\n", want) {
			t.Errorf("refused key %s sent again from curl: status %d replayed=%v body %q, want 200 fresh {\"total\":%v}", k.Name, resp.Status, resp.Replayed, resp.Body, want)
		}
	}
	if got := harness.MySQLTotal(t, c); got.Cmp(want) != 0 {
		t.Errorf("sum_total = %v, want %v", got, want)
	}
	t.Logf("%d browser-like requests: %d refused 403 (%v by instance), %d allowed; the refused keys then added fresh",
		len(cases), len(keys), refused, len(cases)-len(keys))
}
