package server_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/idemsum/idemsum"
)

// textNumbers are number values as a form field or query parameter; want
// 0 means the value must be rejected with 400.
var textNumbers = []struct {
	name  string
	value string
	want  uint64
}{
	{"one", "1", 1},
	{"max", "9223372036854775807", 1<<63 - 1},
	{"leading zeros", "007", 7},
	{"many leading zeros", "00000000000000000000000000000042", 42},
	{"zero", "0", 0},
	{"zeros", "000", 0},
	{"negative", "-1", 0},
	{"plus sign", "+1", 0},
	{"fraction", "1.0", 0},
	{"exponent", "1e3", 0},
	{"hex", "0x10", 0},
	{"leading space", " 1", 0},
	{"trailing space", "1 ", 0},
	{"empty", "", 0},
	{"max plus one", "9223372036854775808", 0},
	{"2^64", "18446744073709551616", 0},
	{"underscore", "1_000", 0},
	{"comma", "1,000", 0},
	{"arabic-indic digit", "\u0661", 0},
	{"fullwidth digit", "\uff11", 0},
	{"nul", "1\x00", 0},
	{"word", "five", 0},
}

func TestAddNumberFromFormAndQuery(t *testing.T) {
	t.Parallel()
	sources := []struct {
		name string
		req  func(v string) request
	}{
		{"query", func(v string) request {
			return request{method: http.MethodPost, target: "/sum?" + url.Values{"number": {v}}.Encode()}
		}},
		{"form", func(v string) request {
			return formBody("/sum", url.Values{"number": {v}}.Encode())
		}},
		{"legacy query", func(v string) request {
			return request{method: http.MethodGet, target: "/test-sum-action?" + url.Values{"number": {v}}.Encode()}
		}},
	}
	for _, src := range sources {
		for _, tc := range textNumbers {
			t.Run(src.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				checkNumber(t, src.req(tc.value), tc.want)
			})
		}
	}
}

func TestAddNumberFromJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		ctype string
		body  string
		want  uint64 // 0: rejected with 400
	}{
		{"one", "application/json", `{"number":1}`, 1},
		{"max", "application/json", `{"number": 9223372036854775807}`, 1<<63 - 1},
		{"whitespace", "application/json", " \n{ \"number\" :\t5 }\r\n ", 5},
		{"charset", "application/json; charset=utf-8", `{"number":5}`, 5},
		{"zero", "application/json", `{"number":0}`, 0},
		{"negative", "application/json", `{"number":-1}`, 0},
		{"negative zero", "application/json", `{"number":-0}`, 0},
		{"plus sign", "application/json", `{"number":+1}`, 0},
		{"leading zero", "application/json", `{"number":01}`, 0},
		{"string", "application/json", `{"number":"5"}`, 0},
		{"null", "application/json", `{"number":null}`, 0},
		{"bool", "application/json", `{"number":true}`, 0},
		{"fraction", "application/json", `{"number":1.0}`, 0},
		{"fraction half", "application/json", `{"number":1.5}`, 0},
		{"exponent", "application/json", `{"number":1e3}`, 0},
		{"exponent upper", "application/json", `{"number":1E3}`, 0},
		{"exponent fraction", "application/json", `{"number":5.0e0}`, 0},
		{"hex", "application/json", `{"number":0x10}`, 0},
		{"max plus one", "application/json", `{"number":9223372036854775808}`, 0},
		{"huge", "application/json", `{"number":123456789012345678901234567890}`, 0},
		{"array member", "application/json", `{"number":[5]}`, 0},
		{"object member", "application/json", `{"number":{"n":5}}`, 0},
		{"top-level array", "application/json", `[5]`, 0},
		{"array of objects", "application/json", `[{"number":5}]`, 0},
		{"top-level number", "application/json", `5`, 0},
		{"top-level string", "application/json", `"5"`, 0},
		{"top-level null", "application/json", `null`, 0},
		{"two objects", "application/json", `{"number":5}{"number":5}`, 0},
		{"two objects spaced", "application/json", `{"number":5} {}`, 0},
		{"trailing garbage", "application/json", `{"number":5}x`, 0},
		{"trailing comma", "application/json", `{"number":5},`, 0},
		{"unknown member", "application/json", `{"number":5,"extra":1}`, 0},
		{"unknown member first", "application/json", `{"extra":1,"number":5}`, 0},
		{"unknown member only", "application/json", `{"numbr":5}`, 0},
		{"duplicate member", "application/json", `{"number":5,"number":5}`, 0},
		{"duplicate member differs", "application/json", `{"number":5,"number":6}`, 0},
		{"member case", "application/json", `{"Number":5}`, 0},
		{"dangling comma", "application/json", `{"number":5,}`, 0},
		{"unterminated", "application/json", `{"number":5`, 0},
		{"missing colon", "application/json", `{"number" 5}`, 0},
		{"single quotes", "application/json", `{'number':5}`, 0},
		{"not JSON", "application/json", `number=5`, 0},
		{"invalid UTF-8 name", "application/json", "{\"n\xffumber\":5}", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := jsonBody("/sum", tc.body)
			r.ctype = tc.ctype
			checkNumber(t, r, tc.want)
		})
	}
}

// checkNumber sends r to a fresh server: want 0 means a 400 problem from
// the edge itself — the Adder, the ledger and the store were never called
// (the Adder and the ledger would refuse a number out of range too, so a
// 400 alone cannot tell who refused) — otherwise a 200 that added want
// once, through the Adder.
func checkNumber(t *testing.T, r request, want uint64) {
	t.Helper()
	l, s := newLedger(), newStore()
	rec := serve(t, newHandler(t, l, s), r)
	if want == 0 {
		assertProblem(t, rec, http.StatusBadRequest)
		assertUntouched(t, l, s)
		return
	}
	assertTotal(t, rec, strconv.FormatUint(want, 10))
	assertAdded(t, l, idemsum.Addition{Number: want})
	if n := l.adderCalls.Load(); n != 1 {
		t.Errorf("Adder calls: got %d, want 1", n)
	}
}

func TestAddNumberSources(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		req  request
		want uint64 // 0: rejected with 400
	}{
		{"query and JSON equal", jsonBody("/sum?number=5", `{"number":5}`), 5},
		{"query and form equal", formBody("/sum?number=5", "number=5"), 5},
		{"query repeated equal", request{method: http.MethodPost, target: "/sum?number=5&number=5"}, 5},
		{"query and JSON differ", jsonBody("/sum?number=5", `{"number":6}`), 0},
		{"query and form differ", formBody("/sum?number=5", "number=6"), 0},
		{"query repeated differ", request{method: http.MethodPost, target: "/sum?number=5&number=6"}, 0},
		{"form repeated differ", formBody("/sum", "number=5&number=6"), 0},
		{"query repeated one invalid", request{method: http.MethodPost, target: "/sum?number=5&number=x"}, 0},
		{"unknown query parameter", request{method: http.MethodPost, target: "/sum?number=5&n=5"}, 0},
		{"unknown form field", formBody("/sum", "number=5&amount=5"), 0},
		{"malformed query", request{method: http.MethodPost, target: "/sum?number=5;x=1"}, 0},
		{"malformed query escape", request{method: http.MethodPost, target: "/sum?number=%zz"}, 0},
		{"malformed form", formBody("/sum", "number=%zz"), 0},
		{"long unknown field", request{method: http.MethodPost, target: "/sum?number=5&" + strings.Repeat("x", 300) + "=1"}, 0},
		{"legacy key name on /sum", request{method: http.MethodPost, target: "/sum?number=5&ikey=abc"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			checkNumber(t, tc.req, tc.want)
		})
	}
}
