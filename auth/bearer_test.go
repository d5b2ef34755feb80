package auth_test

import (
	"net/http"
	"testing"

	"github.com/idemsum/idemsum/auth"
)

func TestBearerToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		values []string // Authorization headers
		token  string   // empty: ok false
	}{
		{"simple", []string{"Bearer abc"}, "abc"},
		{"sumd token", []string{"Bearer isk_Ab-9_xYz"}, "isk_Ab-9_xYz"},
		{"scheme lowercase", []string{"bearer abc"}, "abc"},
		{"scheme mixed case", []string{"BeArEr abc"}, "abc"},
		{"several spaces", []string{"Bearer    abc"}, "abc"},
		{"every token68 character", []string{"Bearer AZaz09-._~+/"}, "AZaz09-._~+/"},
		{"padding", []string{"Bearer abc=="}, "abc=="},
		{"none", nil, ""},
		{"two headers", []string{"Bearer abc", "Bearer abc"}, ""},
		{"empty", []string{""}, ""},
		{"scheme only", []string{"Bearer"}, ""},
		{"scheme and space", []string{"Bearer "}, ""},
		{"basic", []string{"Basic YWxhZGRpbjpvcGVuc2VzYW1l"}, ""},
		{"no space", []string{"Bearerabc"}, ""},
		{"tab", []string{"Bearer\tabc"}, ""},
		{"leading space", []string{" Bearer abc"}, ""},
		{"trailing space", []string{"Bearer abc "}, ""},
		{"two tokens", []string{"Bearer abc def"}, ""},
		{"comma list", []string{"Bearer abc, Bearer def"}, ""},
		{"only padding", []string{"Bearer =="}, ""},
		{"padding inside", []string{"Bearer ab=c"}, ""},
		{"quoted", []string{`Bearer "abc"`}, ""},
		{"non-ASCII", []string{"Bearer abcé"}, ""},
		{"control character", []string{"Bearer abc\x00"}, ""},
		{"token prefix scheme", []string{"Token abc"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			for _, v := range tt.values {
				h.Add("Authorization", v)
			}
			token, ok := auth.BearerToken(h)
			if token != tt.token || ok != (tt.token != "") {
				t.Errorf("BearerToken(%q) = %q, %v; want %q, %v", tt.values, token, ok, tt.token, tt.token != "")
			}
		})
	}
}

// TestBearerTokenOfARequest reads the header as net/http delivers it.
func TestBearerTokenOfARequest(t *testing.T) {
	t.Parallel()
	tok, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, "http://x/sum", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if got, ok := auth.BearerToken(req.Header); !ok || got != tok {
		t.Errorf("BearerToken = %q, %v; want %q", got, ok, tok)
	}
}
