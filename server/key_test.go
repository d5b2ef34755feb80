package server_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/idemsum/idemsum"
)

func TestAddKey(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("k", 255)
	tooLong := strings.Repeat("k", 256)
	post := request{method: http.MethodPost, target: "/sum?number=5"}
	tests := []struct {
		name string
		req  request
		want string // the key the ledger must see; "" means 400
	}{
		{"bare header", post.withKey("abc"), "abc"},
		{"bare header with OWS", post.withKey(" \tabc \t"), "abc"},
		{"bare header of every visible byte", post.withKey(visibleASCII()), visibleASCII()},
		{"sf-string header", post.withKey(`"abc"`), "abc"},
		{"sf-string header with escapes", post.withKey(`"a\"b\\c"`), `a"b\c`},
		{"sf-string header of 255 after unescaping", post.withKey(`"` + strings.Repeat(`\\`, 255) + `"`), strings.Repeat(`\`, 255)},
		{"header of 255", post.withKey(long), long},
		{"header repeated equal", post.withKey("abc", "abc"), "abc"},
		{"header repeated equal sf and bare", post.withKey("abc", `"abc"`), "abc"},
		{"key query", request{method: http.MethodPost, target: "/sum?number=5&key=abc"}, "abc"},
		{"key query escaped", request{method: http.MethodPost, target: "/sum?number=5&key=" + url.QueryEscape(`a&b=c%"`)}, `a&b=c%"`},
		{"key form", formBody("/sum", "number=5&key=abc"), "abc"},
		{"key query of 255", request{method: http.MethodPost, target: "/sum?number=5&key=" + long}, long},
		{"header and query equal", request{method: http.MethodPost, target: "/sum?number=5&key=abc"}.withKey("abc"), "abc"},
		{"sf header and query equal", request{method: http.MethodPost, target: "/sum?number=5&key=a%22b"}.withKey(`"a\"b"`), `a"b`},
		{"header and form equal", formBody("/sum", "number=5&key=abc").withKey("abc"), "abc"},
		{"sf query and bare header equal", request{method: http.MethodPost, target: "/sum?number=5&key=%22abc%22"}.withKey("abc"), "abc"},
		{"sf form and bare header equal", formBody("/sum", "number=5&key=%22abc%22").withKey("abc"), "abc"},
		{"sf query and bare form equal", formBody("/sum?key=%22abc%22", "number=5&key=abc"), "abc"},
		{"legacy sf ikey and bare header equal", request{method: http.MethodGet, target: "/test-sum-action?number=5&ikey=%22abc%22"}.withKey("abc"), "abc"},
		{"query and form equal", formBody("/sum?key=abc", "number=5&key=abc"), "abc"},
		{"JSON body with header", jsonBody("/sum", `{"number":5}`).withKey("abc"), "abc"},

		{"header and query differ", request{method: http.MethodPost, target: "/sum?number=5&key=abd"}.withKey("abc"), ""},
		{"header and form differ", formBody("/sum", "number=5&key=abd").withKey("abc"), ""},
		{"header repeated differ", post.withKey("abc", "abd"), ""},
		{"query repeated differ", request{method: http.MethodPost, target: "/sum?number=5&key=a&key=b"}, ""},
		{"keys differ only in case", request{method: http.MethodPost, target: "/sum?number=5&key=abc"}.withKey("ABC"), ""},
		{"header of 256", post.withKey(tooLong), ""},
		{"sf-string header of 256 after unescaping", post.withKey(`"` + strings.Repeat(`\\`, 256) + `"`), ""},
		{"query of 256", request{method: http.MethodPost, target: "/sum?number=5&key=" + tooLong}, ""},
		{"form of 256", formBody("/sum", "number=5&key="+tooLong), ""},
		{"empty header", post.withKey(""), ""},
		{"blank header", post.withKey("  "), ""},
		{"empty query key", request{method: http.MethodPost, target: "/sum?number=5&key="}, ""},
		{"header with NUL", post.withKey("a\x00b"), ""},
		{"header with control char", post.withKey("a\x01b"), ""},
		{"header with DEL", post.withKey("a\x7fb"), ""},
		{"header with inner space", post.withKey("a b"), ""},
		{"header with inner tab", post.withKey("a\tb"), ""},
		{"header with newline", post.withKey("a\nb"), ""},
		{"header non-ASCII", post.withKey("cl\u00e9"), ""},
		{"query with control char", request{method: http.MethodPost, target: "/sum?number=5&key=a%01b"}, ""},
		{"query with space", request{method: http.MethodPost, target: "/sum?number=5&key=a+b"}, ""},
		{"query with DEL", request{method: http.MethodPost, target: "/sum?number=5&key=a%7Fb"}, ""},
		{"query non-ASCII", request{method: http.MethodPost, target: "/sum?number=5&key=cl%C3%A9"}, ""},
		{"form with newline", formBody("/sum", "number=5&key=a%0Ab"), ""},
		{"sf-string unterminated", post.withKey(`"abc`), ""},
		{"sf-string inner quote", post.withKey(`"a"b"`), ""},
		{"sf-string bad escape", post.withKey(`"a\nb"`), ""},
		{"sf-string trailing backslash", post.withKey(`"abc\"`), ""},
		{"sf-string empty", post.withKey(`""`), ""},
		{"sf-string with space", post.withKey(`"a b"`), ""},
		{"key in JSON body", jsonBody("/sum", `{"number":5,"key":"abc"}`), ""},
		{"key with invalid number", request{method: http.MethodPost, target: "/sum?number=0"}.withKey("abc"), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l, s := newLedger(), newStore()
			rec := serve(t, newHandler(t, l, s), tc.req)
			if tc.want == "" {
				assertProblem(t, rec, http.StatusBadRequest)
				assertUntouched(t, l, s)
				return
			}
			assertTotal(t, rec, "5")
			assertAdded(t, l, idemsum.Addition{Key: tc.want, Number: 5})
		})
	}
}

// TestKeySources checks that one text is the same key, or is refused the
// same way, whether it comes as the Idempotency-Key header, the key query
// or form field, or the legacy ikey query or form field.
func TestKeySources(t *testing.T) {
	t.Parallel()
	sources := []struct {
		name string
		req  func(text string) request
	}{
		{"header", func(k string) request { return request{method: http.MethodPost, target: "/sum?number=5"}.withKey(k) }},
		{"query", func(k string) request {
			return request{method: http.MethodPost, target: "/sum?number=5&key=" + url.QueryEscape(k)}
		}},
		{"form", func(k string) request { return formBody("/sum", "number=5&key="+url.QueryEscape(k)) }},
		{"legacy query", func(k string) request {
			return request{method: http.MethodGet, target: "/test-sum-action?number=5&ikey=" + url.QueryEscape(k)}
		}},
		{"legacy form", func(k string) request { return formBody("/test-sum-action", "number=5&ikey="+url.QueryEscape(k)) }},
	}
	texts := []struct {
		text string
		want string // the key the ledger must see; "" means 400
	}{
		{`abc`, "abc"},
		{`"abc"`, "abc"},
		{`"abc`, ""},
		{`a"b`, `a"b`},
		{`"a\"b"`, `a"b`},
		{`"a\x"`, ""},
		{" abc\t", "abc"},
		// A lone quote was once accepted as the query's key.
		{`"`, ""},
		{`""`, ""},
		{`"\"`, ""},
		{` " `, ""},
		{`"""`, ""},
		{`%22`, "%22"}, // the text itself, decoded once
		{`%22%22`, "%22%22"},
	}
	for _, tt := range texts {
		for _, src := range sources {
			t.Run(src.name+" "+tt.text, func(t *testing.T) {
				t.Parallel()
				l, s := newLedger(), newStore()
				rec := serve(t, newHandler(t, l, s), src.req(tt.text))
				if tt.want == "" {
					assertProblem(t, rec, http.StatusBadRequest)
					assertUntouched(t, l, s)
					return
				}
				assertTotal(t, rec, "5")
				assertAdded(t, l, idemsum.Addition{Key: tt.want, Number: 5})
			})
		}
	}
}

// TestKeySourcesOverHTTP sends a lone quote and its neighbours over a
// real connection, with net/http's client and as raw bytes, as every key
// source of POST /sum and of the legacy URL (GET and POST): each is
// refused with 400 and adds nothing.
func TestKeySourcesOverHTTP(t *testing.T) {
	t.Parallel()
	l := newLedger()
	srv := httptest.NewServer(newHandler(t, l, newStore()))
	t.Cleanup(srv.Close)
	type target struct{ method, path, param string }
	targets := []target{{"POST", "/sum", "key"}, {"GET", "/test-sum-action", "ikey"}, {"POST", "/test-sum-action", "ikey"}}
	for _, text := range []string{`"`, `""`, `"\"`, ` " `, `"""`, `"abc`} {
		for _, tg := range targets {
			reqs := map[string]*http.Request{
				"header": newRequest(t, tg.method, srv.URL+tg.path+"?number=5", ""),
				"query":  newRequest(t, tg.method, srv.URL+tg.path+"?number=5&"+tg.param+"="+url.QueryEscape(text), ""),
			}
			reqs["header"].Header.Set("Idempotency-Key", text)
			if tg.method == "POST" {
				reqs["form"] = newRequest(t, tg.method, srv.URL+tg.path, "number=5&"+tg.param+"="+url.QueryEscape(text))
			}
			for source, req := range reqs {
				res, err := srv.Client().Do(req)
				if err != nil {
					t.Fatalf("%s %s, %s %q: %v", tg.method, tg.path, source, text, err)
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "invalid-input") {
					t.Errorf("%s %s, %s %q: got %d %s, want 400 invalid-input", tg.method, tg.path, source, text, res.StatusCode, b)
				}
			}
		}
	}
	c, r := dialRaw(t, startListener(t, newHandler(t, l, newStore())))
	for _, tg := range targets {
		for _, q := range []string{`"`, `%22`, `%22%22`, `%20%22%20`} {
			raw := tg.method + " " + tg.path + "?number=5&" + tg.param + "=" + q + " HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
			send(t, c, raw)
			res, err := http.ReadResponse(r, nil)
			if err != nil {
				t.Fatalf("%q: read response: %v", raw, err)
			}
			b, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "invalid-input") {
				t.Errorf("%q: got %d %s, want 400 invalid-input", raw, res.StatusCode, b)
			}
		}
	}
	if adds, _ := l.seen(); len(adds) != 0 {
		t.Errorf("additions: got %v, want none", adds)
	}
}

func newRequest(tb testing.TB, method, url, form string) *http.Request {
	tb.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(form))
	if err != nil {
		tb.Fatal(err)
	}
	if form != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return req
}

// visibleASCII returns every byte from 0x21 to 0x7E.
func visibleASCII() string {
	var b strings.Builder
	for c := byte(0x21); c <= 0x7e; c++ {
		b.WriteByte(c)
	}
	return b.String()
}

// TestReadOnly checks that a request without a number only reads the
// total: a valid key on it is ignored, an invalid one is still a 400.
func TestReadOnly(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		req  request
		want int
	}{
		{"POST /sum empty", request{method: http.MethodPost, target: "/sum"}, http.StatusOK},
		{"POST /sum with key header", request{method: http.MethodPost, target: "/sum"}.withKey("abc"), http.StatusOK},
		{"POST /sum with key query", request{method: http.MethodPost, target: "/sum?key=abc"}, http.StatusOK},
		{"POST /sum with empty JSON object", jsonBody("/sum", `{}`).withKey("abc"), http.StatusOK},
		{"POST /sum with empty form", formBody("/sum?key=abc", ""), http.StatusOK},
		{"legacy with ikey", request{method: http.MethodGet, target: "/test-sum-action?ikey=abc"}, http.StatusOK},
		{"legacy POST with ikey", request{method: http.MethodPost, target: "/test-sum-action?ikey=abc"}, http.StatusOK},
		{"GET /sum", request{method: http.MethodGet, target: "/sum"}, http.StatusOK},
		{"GET /sum with key header", request{method: http.MethodGet, target: "/sum"}.withKey(`"abc"`), http.StatusOK},
		{"GET /sum with key query", request{method: http.MethodGet, target: "/sum?key=abc"}, http.StatusOK},
		{"HEAD /sum", request{method: http.MethodHead, target: "/sum"}, http.StatusOK},

		{"POST /sum with invalid key header", request{method: http.MethodPost, target: "/sum"}.withKey("a b"), http.StatusBadRequest},
		{"POST /sum with two keys", request{method: http.MethodPost, target: "/sum?key=abd"}.withKey("abc"), http.StatusBadRequest},
		{"legacy with invalid ikey", request{method: http.MethodGet, target: "/test-sum-action?ikey="}, http.StatusBadRequest},
		{"GET /sum with number", request{method: http.MethodGet, target: "/sum?number=5"}, http.StatusBadRequest},
		{"GET /sum with invalid number", request{method: http.MethodGet, target: "/sum?number=x"}, http.StatusBadRequest},
		{"GET /sum with JSON number", request{method: http.MethodGet, target: "/sum", ctype: "application/json", body: `{"number":5}`}, http.StatusBadRequest},
		{"GET /sum with invalid key", request{method: http.MethodGet, target: "/sum"}.withKey(strings.Repeat("k", 256)), http.StatusBadRequest},
		{"GET /sum with unknown parameter", request{method: http.MethodGet, target: "/sum?x=1"}, http.StatusBadRequest},
		{"GET /sum with malformed JSON", request{method: http.MethodGet, target: "/sum", ctype: "application/json", body: `{`}, http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l, s := newLedger(), newStore()
			h := newHandler(t, l, s)
			assertTotal(t, serve(t, h, request{method: http.MethodPost, target: "/sum?number=41"}), "41")
			assertTotal(t, serve(t, h, request{method: http.MethodPost, target: "/sum?number=1"}), "42")
			before, reads := l.seen()
			rec := serve(t, h, tc.req)
			after, readsAfter := l.seen()
			if len(after) != len(before) {
				t.Errorf("additions: got %v, want %v", after, before)
			}
			if s.callCount() != 0 {
				t.Errorf("store calls: got %d, want 0", s.callCount())
			}
			if tc.want != http.StatusOK {
				assertProblem(t, rec, tc.want)
				if readsAfter != reads {
					t.Errorf("ledger reads: got %d, want %d", readsAfter, reads)
				}
				return
			}
			if tc.req.method == http.MethodHead {
				if rec.Code != http.StatusOK {
					t.Errorf("status: got %d, want %d", rec.Code, http.StatusOK)
				}
				return
			}
			assertTotal(t, rec, "42")
		})
	}
}
