package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"math/big"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/idemsum/idemsum"
	"github.com/idemsum/idemsum/server"
)

// fuzzSeeds are FuzzHandler's corpus: every case of the status table.
var fuzzSeeds = []struct {
	method, path, query, key, ctype, body string
	chunked, store                        bool
}{
	{"POST", "/sum", "", "", "application/json", `{"number":5}`, false, false},
	{"POST", "/sum", "", "k1", "application/json", `{"number":9223372036854775807}`, false, true},
	{"POST", "/sum", "", `"a\"b\\c"`, "application/json; charset=utf-8", ` {"number": 7} `, true, false},
	{"POST", "/sum", "number=007", "", "", "", false, false},
	{"POST", "/sum", "number=5&key=k", "k", "", "", false, true},
	{"POST", "/sum", "number=5&key=k", "j", "", "", false, false},
	{"POST", "/sum", "", "", "application/x-www-form-urlencoded", "number=0005&key=abc", false, true},
	{"POST", "/sum", "number=0", "", "", "", false, false},
	{"POST", "/sum", "number=-1", "", "", "", false, false},
	{"POST", "/sum", "number=%2B1", "", "", "", false, false},
	{"POST", "/sum", "number=1.0", "", "", "", false, false},
	{"POST", "/sum", "number=1e3", "", "", "", false, false},
	{"POST", "/sum", "number=0x10", "", "", "", false, false},
	{"POST", "/sum", "number=+1", "", "", "", false, false},
	{"POST", "/sum", "number=1+", "", "", "", false, false},
	{"POST", "/sum", "number=", "", "", "", false, false},
	{"POST", "/sum", "number=9223372036854775808", "", "", "", false, false},
	{"POST", "/sum", "number=5&number=6", "", "", "", false, false},
	{"POST", "/sum", "number=5;x", "", "", "", false, false},
	{"POST", "/sum", "", "", "application/json", `{"number":"5"}`, false, false},
	{"POST", "/sum", "", "", "application/json", `{"number":null}`, false, false},
	{"POST", "/sum", "", "", "application/json", `{"number":1.5}`, false, false},
	{"POST", "/sum", "", "", "application/json", `{"number":1e3}`, false, false},
	{"POST", "/sum", "", "", "application/json", `{"number":5}{"number":5}`, false, false},
	{"POST", "/sum", "", "", "application/json", `{"number":5}x`, false, false},
	{"POST", "/sum", "", "", "application/json", `{"number":5,"x":1}`, false, false},
	{"POST", "/sum", "", "", "application/json", `{"number":5,"number":5}`, false, false},
	{"POST", "/sum", "", "", "application/json", `[5]`, false, false},
	{"POST", "/sum", "number=5", "", "application/json", `{"number":5}`, false, false},
	{"POST", "/sum", "number=5", "", "text/plain", "5", false, false},
	{"POST", "/sum", "", "", "application/json", `{"number":5}` + strings.Repeat(" ", server.MaxBody), true, false},
	{"POST", "/sum", "number=5", strings.Repeat("k", 255), "", "", false, true},
	{"POST", "/sum", "number=5", strings.Repeat("k", 256), "", "", false, false},
	{"POST", "/sum", "number=5", "a\x01b", "", "", false, false},
	{"POST", "/sum", "number=5", `""`, "", "", false, false},
	{"POST", "/sum", "", "k", "", "", false, true},
	{"GET", "/sum", "", "", "", "", false, false},
	{"GET", "/sum", "key=k", "k", "", "", false, false},
	{"GET", "/sum", "number=5", "", "", "", false, false},
	{"HEAD", "/sum", "", "", "", "", false, false},
	{"PUT", "/sum", "number=5", "k", "", "", false, false},
	{"GET", "/test-sum-action", "ikey=k&number=5", "", "", "", false, true},
	{"POST", "/test-sum-action", "ikey=k&number=5", "k", "", "", false, false},
	{"POST", "/test-sum-action", "ikey=k", "", "application/x-www-form-urlencoded", "number=5", false, false},
	{"HEAD", "/test-sum-action", "ikey=k&number=5", "", "", "", false, false},
	{"DELETE", "/test-sum-action", "ikey=k&number=5", "", "", "", false, false},
	{"GET", "/healthz", "", "", "", "", false, false},
	{"GET", "/readyz", "", "", "", "", false, false},
	{"POST", "/readyz", "", "", "", "", false, false},
	{"GET", "/", "", "", "", "", false, false},
	{"POST", "/nope", "number=5", "", "", "", false, false},
	{"POST", "/sum/../sum", "number=5", "", "", "", false, false},
	{"post", "/sum", "number=5", "", "", "", false, false},
	{"", "sum", "number=5", "", "", "", false, false},
}

// FuzzHandler sends arbitrary requests to the server over a fake ledger
// that never fails: nothing may answer 5xx or panic, a request that is
// not answered 200 changes nothing, and a 200 that adds moves the total by
// exactly its number, once per key.
func FuzzHandler(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s.method, s.path, s.query, s.key, s.ctype, []byte(s.body), s.chunked, s.store)
	}
	f.Fuzz(func(t *testing.T, method, path, query, key, ctype string, body []byte, chunked, store bool) {
		l := newLedger()
		var s *fakeStore
		if store {
			s = newStore()
		}
		h := newHandler(t, l, s)
		newReq := func() *http.Request {
			return fuzzRequest(method, path, query, key, ctype, body, chunked)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, newReq())
		checkFuzzResponse(t, rec)
		adds, _ := l.seen()
		if rec.Code != http.StatusOK {
			if len(adds) != 0 || l.sum() != "0" {
				t.Fatalf("status %d: got additions %v and total %s, want none and 0", rec.Code, adds, l.sum())
			}
			return
		}
		if len(adds) == 0 {
			if l.sum() != "0" {
				t.Fatalf("read: got total %s, want 0", l.sum())
			}
			return
		}
		if len(adds) != 1 {
			t.Fatalf("additions: got %v, want at most 1", adds)
		}
		a := adds[0]
		checkAddition(t, newReq(), query, ctype, body, a)
		want := strconv.FormatUint(a.Number, 10)
		if got := l.sum(); got != want {
			t.Fatalf("total: got %s, want %s", got, want)
		}
		if got := rec.Body.String(); got != string(idemsum.Body(want)) {
			t.Fatalf("body: got %q, want %q", got, idemsum.Body(want))
		}
		if a.Key == "" {
			return
		}
		again := httptest.NewRecorder()
		h.ServeHTTP(again, newReq())
		assertReplay(t, again, rec.Body.String())
		if got := l.sum(); got != want {
			t.Fatalf("total after the replay: got %s, want %s", got, want)
		}
	})
}

func fuzzRequest(method, path, query, key, ctype string, body []byte, chunked bool) *http.Request {
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u := &url.URL{Path: path, RawQuery: query}
	r := &http.Request{
		Method: method, URL: u, RequestURI: u.RequestURI(), Host: "example.com",
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{},
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
	}
	if chunked {
		r.ContentLength = -1
	}
	if key != "" {
		r.Header.Set("Idempotency-Key", key)
	}
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	return r
}

// checkFuzzResponse checks that rec is no 5xx, and that every 4xx is a
// well-formed problem.
func checkFuzzResponse(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	switch {
	case rec.Code >= 500:
		t.Fatalf("status: got %d (body %q), want below 500", rec.Code, rec.Body.String())
	case rec.Code >= 400:
		if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("status %d: got Content-Type %q, want application/problem+json", rec.Code, ct)
		}
		var p struct {
			Type, Title, Detail string
			Status              int
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Status != rec.Code || p.Type == "" || p.Title == "" || p.Detail == "" {
			t.Fatalf("problem: got %q (%v), want type, title, detail and status %d", rec.Body.String(), err, rec.Code)
		}
	}
}

// checkAddition checks that a request that added a is one that may add,
// and that a.Number is the number it sent.
func checkAddition(t *testing.T, r *http.Request, query, ctype string, body []byte, a idemsum.Addition) {
	t.Helper()
	route := r.Method + " " + r.URL.Path
	if route != "POST /sum" && route != "GET /test-sum-action" && route != "POST /test-sum-action" {
		t.Fatalf("route %q added %+v, want no addition", route, a)
	}
	if a.Number < 1 || a.Number > idemsum.MaxNumber {
		t.Fatalf("number: got %d, want 1..2^63-1", a.Number)
	}
	digits := strconv.FormatUint(a.Number, 10)
	q, _ := url.ParseQuery(query)
	candidates := q["number"]
	mt, _, _ := mime.ParseMediaType(ctype)
	switch mt {
	case "application/x-www-form-urlencoded":
		form, _ := url.ParseQuery(string(body))
		candidates = append(candidates, form["number"]...)
	case "application/json":
		if bytes.Contains(body, []byte(digits)) {
			return
		}
	}
	for _, c := range candidates {
		if v, ok := new(big.Int).SetString(c, 10); ok && strings.Trim(c, "0123456789") == "" && v.String() == digits {
			return
		}
	}
	t.Fatalf("added %d, want one of the numbers sent: query %q, body %q", a.Number, query, body)
}
