package idempotency_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/idemsum/idemsum/idempotency"
)

// TestJSONFingerprint checks which bodies JSONFingerprint("trace") takes
// for one request, and which it tells apart.
func TestJSONFingerprint(t *testing.T) {
	t.Parallel()
	fp := func(target, body string) string {
		return idempotency.JSONFingerprint("trace")(httptest.NewRequest("POST", target, strings.NewReader(body)), []byte(body))
	}
	tests := []struct {
		name string
		a, b string // bodies of POST /orders
		same bool
	}{
		{"member order", `{"a":1,"b":[1,{"y":2,"x":1}]}`, `{"b":[1,{"x":1,"y":2}],"a":1}`, true},
		{"whitespace", `{"a":1}`, " {\n\t\"a\" : 1 } \n", true},
		{"escapes", `{"a":"é\u0041"}`, `{"a":"\u00e9A"}`, true},
		{"ignored top-level member", `{"a":1,"trace":"x"}`, `{"a":1}`, true},
		{"ignored name nested is kept", `{"a":{"trace":1}}`, `{"a":{}}`, false},
		{"array order", `[1,2]`, `[2,1]`, false},
		{"number text", `{"a":1}`, `{"a":1.0}`, false},
		{"big numbers stay exact", `{"a":12345678901234567890}`, `{"a":12345678901234567891}`, false},
		{"string vs number", `{"a":"1"}`, `{"a":1}`, false},
		{"two values are raw", `{"a":1}{"b":2}`, `{"a":1} {"b":2}`, false},
		{"invalid UTF-8 is raw", "{\"a\":\"\xff\"}", "{\"a\":\"\xfe\"}", false},
		{"not JSON is raw", `a=1`, `a=1`, true},
		{"empty", ``, ``, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fp("/orders", tt.a) == fp("/orders", tt.b); got != tt.same {
				t.Fatalf("same fingerprint for %q and %q: got %v, want %v", tt.a, tt.b, got, tt.same)
			}
		})
	}
	if fp("/orders", `{"a":1}`) == fp("/orders?x=1", `{"a":1}`) || fp("/orders", `{"a":1}`) == fp("/other", `{"a":1}`) {
		t.Fatalf("the same body on another path or query has the same fingerprint")
	}
}
