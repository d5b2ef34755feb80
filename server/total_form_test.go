package server_test

import (
	"io"
	"net/http"
	"slices"
	"testing"
)

// withAccept returns r with the Accept header v.
func (r request) withAccept(v string) request {
	r.header = r.header.Clone()
	if r.header == nil {
		r.header = http.Header{}
	}
	r.header.Set("Accept", v)
	return r
}

const stringForm = "application/json; total=string"

// assertBody checks that rec is 200 with the string form's Content-Type
// and exactly the body want.
func assertBody(tb testing.TB, rec interface {
	Result() *http.Response
}, got, want string) {
	tb.Helper()
	if res := rec.Result(); res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != stringForm {
		tb.Fatalf("got %d %q, want 200 %s", res.StatusCode, res.Header.Get("Content-Type"), stringForm)
	}
	if got != want {
		tb.Errorf("body: got %q, want %q", got, want)
	}
	if vary := rec.Result().Header.Values("Vary"); !slices.Contains(vary, "Accept") {
		tb.Errorf("Vary: got %q, want Accept: the body's form follows it, and a cache must know", vary)
	}
}

// TestStringTotal: asked with Accept: application/json; total=string, an
// addition, a replay and a read carry the total as a string of its
// digits, above 2^53 too; a replay is byte-identical to the first answer
// in the form it asks for, whichever form the first was asked in, and the
// key is added once.
func TestStringTotal(t *testing.T) {
	t.Parallel()
	const big = "9007199254740993" // 2^53 + 1: JSON.parse makes it ...992
	for _, mode := range storeModes {
		for _, route := range keyedRoutes {
			t.Run(mode.name+"/"+route.name, func(t *testing.T) {
				t.Parallel()
				l := newLedger()
				h := newHandler(t, l, mode.store())
				assertTotal(t, serve(t, h, request{method: http.MethodPost, target: "/sum?number=" + big}), big)

				first := serve(t, h, route.req("S", 5).withAccept(stringForm))
				assertBody(t, first, first.Body.String(), "{\"total\":\"9007199254740998\"}\n")
				again := serve(t, h, route.req("S", 5).withAccept(stringForm))
				assertStringReplay(t, again, first.Body.String())
				asNumber := serve(t, h, route.req("S", 5))
				assertReplay(t, asNumber, "{\"total\":9007199254740998}\n")

				numberFirst := serve(t, h, route.req("N", 7))
				assertTotal(t, numberFirst, "9007199254741005")
				assertReplay(t, serve(t, h, route.req("N", 7)), numberFirst.Body.String())
				assertStringReplay(t, serve(t, h, route.req("N", 7).withAccept(stringForm)), "{\"total\":\"9007199254741005\"}\n")

				if got := l.sum(); got != "9007199254741005" {
					t.Errorf("total: got %s, want 9007199254741005 (each key added once)", got)
				}
			})
		}
	}
}

// TestStringTotalOfReads: GET /sum and POST /sum without a number answer
// the string form when asked for it.
func TestStringTotalOfReads(t *testing.T) {
	t.Parallel()
	h := newHandler(t, newLedger(), nil)
	assertTotal(t, serve(t, h, request{method: http.MethodPost, target: "/sum?number=9223372036854775807"}), "9223372036854775807")
	assertTotal(t, serve(t, h, request{method: http.MethodPost, target: "/sum?number=9223372036854775807"}), "18446744073709551614")
	for _, r := range []request{
		{method: http.MethodGet, target: "/sum"},
		{method: http.MethodPost, target: "/sum"},
		request{method: http.MethodPost, target: "/sum"}.withKey("read"),
	} {
		rec := serve(t, h, r.withAccept(stringForm))
		assertBody(t, rec, rec.Body.String(), "{\"total\":\"18446744073709551614\"}\n")
		assertTotal(t, serve(t, h, r), "18446744073709551614")
	}
}

// TestStringTotalAccept: which Accept values ask for the string form.
func TestStringTotalAccept(t *testing.T) {
	t.Parallel()
	h := newHandler(t, newLedger(), nil)
	assertTotal(t, serve(t, h, request{method: http.MethodPost, target: "/sum?number=12"}), "12")
	for accept, quoted := range map[string]bool{
		"application/json; total=string":                    true,
		"application/json;total=STRING":                     true,
		"Application/JSON; Total=string":                    true,
		"text/html, application/json; total=string; q=0.5":  true,
		"application/json; total=string, */*;q=0.1":         true,
		"application/json":                                  false,
		"*/*":                                               false,
		"application/json; total=number":                    false,
		"application/json; total=string; q=0":               false,
		"text/plain; total=string":                          false,
		"application/json; total=\"string\"":                true,
		"application/json; totals=string":                   false,
		"application/problem+json; total=string":            false,
		"application/json; charset=utf-8; total=string":     true,
		"application/json; total=string; charset=\"utf-8\"": true,
	} {
		want, ctype := "{\"total\":12}\n", "application/json"
		if quoted {
			want, ctype = "{\"total\":\"12\"}\n", stringForm
		}
		rec := serve(t, h, request{method: http.MethodGet, target: "/sum"}.withAccept(accept))
		if got := rec.Body.String(); got != want || rec.Header().Get("Content-Type") != ctype {
			t.Errorf("Accept %q: got %q %q, want %q %q", accept, rec.Header().Get("Content-Type"), got, ctype, want)
		}
	}
}

// TestStringTotalProblems: a problem stays a problem in either form, and
// bad input still changes nothing.
func TestStringTotalProblems(t *testing.T) {
	t.Parallel()
	l := newLedger()
	h := newHandler(t, l, nil)
	assertProblem(t, serve(t, h, request{method: http.MethodPost, target: "/sum?number=0"}.withAccept(stringForm)), http.StatusBadRequest)
	assertUntouched(t, l, nil)
	rec := serve(t, h, request{method: http.MethodPost, target: "/sum?key=K&number=1"}.withAccept(stringForm))
	assertBody(t, rec, rec.Body.String(), "{\"total\":\"1\"}\n")
	assertProblem(t, serve(t, h, request{method: http.MethodPost, target: "/sum?key=K&number=2"}.withAccept(stringForm)), http.StatusUnprocessableEntity)
}

// assertStringReplay checks that rec is a replay in the string form with
// exactly the body want.
func assertStringReplay(tb testing.TB, rec interface {
	Result() *http.Response
}, want string) {
	tb.Helper()
	res := rec.Result()
	if got := res.Header.Get("Idempotent-Replayed"); got != "true" {
		tb.Errorf("replay Idempotent-Replayed: got %q, want true", got)
	}
	body, _ := io.ReadAll(res.Body)
	assertBody(tb, rec, string(body), want)
}
