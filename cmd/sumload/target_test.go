package main

import "testing"

func TestParseTarget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url, addr, get string
		tls            bool
	}{
		{"http://h", "h:80", "GET /sum HTTP/1.1\r\nHost: h\r\n", false},
		{"https://h/", "h:443", "GET /sum HTTP/1.1\r\nHost: h\r\n", true},
		{"http://h:8/p//", "h:8", "GET /p/sum HTTP/1.1\r\nHost: h:8\r\n", false},
		{"https://h:8/a%20b", "h:8", "GET /a%20b/sum HTTP/1.1\r\nHost: h:8\r\n", true},
		{"http://[::1]:8", "[::1]:8", "GET /sum HTTP/1.1\r\nHost: [::1]:8\r\n", false},
		{"http://[::1]", "[::1]:80", "GET /sum HTTP/1.1\r\nHost: [::1]\r\n", false},
	}
	for _, tt := range tests {
		tg, err := parseTarget(tt.url, "")
		if err != nil {
			t.Errorf("parseTarget(%q): got error %v", tt.url, err)
			continue
		}
		want := tt.get + "User-Agent: sumload\r\n\r\n"
		if tg.addr != tt.addr || tg.get != want || (tg.tls != nil) != tt.tls {
			t.Errorf("parseTarget(%q): got addr %q, get %q, tls %v; want %q, %q, %v", tt.url, tg.addr, tg.get, tg.tls != nil, tt.addr, want, tt.tls)
		}
	}
}
