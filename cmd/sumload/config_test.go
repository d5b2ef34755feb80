package main

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	t.Parallel()
	defaults := config{
		URLs: []string{"http://127.0.0.1:8080"}, Concurrency: 64, Duration: 10 * time.Second,
		Keys: "unique", Min: 1, Max: 1000, Timeout: 5 * time.Second, Progress: true,
	}
	with := func(f func(c *config)) config {
		c := defaults
		f(&c)
		return c
	}
	tests := []struct {
		name string
		args []string
		want config
	}{
		{"defaults", nil, defaults},
		{"urls", []string{"-urls", "http://a:1,http://b:2"}, with(func(c *config) { c.URLs = []string{"http://a:1", "http://b:2"} })},
		{"https and paths", []string{"-urls", "https://a,http://b:2/api/"}, with(func(c *config) { c.URLs = []string{"https://a", "http://b:2/api/"} })},
		{"longest key prefix", []string{"-key-prefix", strings.Repeat("k", 236)}, with(func(c *config) { c.Prefix = strings.Repeat("k", 236) })},
		{"requests without duration", []string{"-n", "10", "-d", "0"}, with(func(c *config) { c.Requests, c.Duration = 10, 0 })},
		{"no keys", []string{"-keys", "none"}, with(func(c *config) { c.Keys = "none" })},
		{"duplicates", []string{"-keys", "dup:0.25"}, with(func(c *config) { c.Keys, c.DupShare = "dup", 0.25 })},
		{"no duplicates", []string{"-keys", "dup:0"}, with(func(c *config) { c.Keys = "dup" })},
		{"paced", []string{"-rate", "100"}, with(func(c *config) { c.Rate = 100 })},
		{"one number", []string{"-min", "5", "-max", "5"}, with(func(c *config) { c.Min, c.Max = 5, 5 })},
		{"largest numbers", []string{"-min", "9223372036854775807", "-max", "9223372036854775807"}, with(func(c *config) { c.Min, c.Max = 1<<63-1, 1<<63-1 })},
		{"the rest", []string{"-c", "3", "-d", "2s", "-timeout", "1s", "-json", "-progress=false", "-key-prefix", "p-"}, with(func(c *config) {
			c.Concurrency, c.Duration, c.Timeout, c.JSON, c.Progress, c.Prefix = 3, 2*time.Second, time.Second, true, false, "p-"
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stderr bytes.Buffer
			got, err := parseConfig(tt.args, &stderr)
			if err != nil {
				t.Fatalf("parseConfig(%q): got error %v, want nil", tt.args, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseConfig(%q):\ngot  %+v\nwant %+v", tt.args, got, tt.want)
			}
			if stderr.Len() != 0 {
				t.Errorf("stderr: got %q, want nothing", stderr.String())
			}
		})
	}
}

func TestParseConfigRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string // in the error
	}{
		{"unknown flag", []string{"-bogus"}, "flag provided but not defined"},
		{"not a number", []string{"-c", "many"}, "invalid value"},
		{"duration without unit", []string{"-d", "5"}, "invalid value"},
		{"no clients", []string{"-c", "0"}, "-c must be at least 1"},
		{"negative clients", []string{"-c", "-2"}, "-c must be at least 1"},
		{"negative requests", []string{"-n", "-1"}, "positive -d or -n"},
		{"no duration", []string{"-d", "0"}, "positive -d or -n"},
		{"negative duration", []string{"-d", "-1s"}, "positive -d or -n"},
		{"zero", []string{"-min", "0"}, "want 1 <= -min <= -max"},
		{"min over max", []string{"-min", "10", "-max", "9"}, "want 1 <= -min <= -max"},
		{"max over 2^63-1", []string{"-max", "9223372036854775808"}, "want 1 <= -min <= -max"},
		{"max over uint64", []string{"-max", "18446744073709551616"}, "invalid value"},
		{"negative min", []string{"-min", "-1"}, "invalid value"},
		{"negative rate", []string{"-rate", "-1"}, "-rate must be"},
		{"rate NaN", []string{"-rate", "NaN"}, "-rate must be"},
		{"rate infinite", []string{"-rate", "Inf"}, "-rate must be"},
		{"unknown key mode", []string{"-keys", "random"}, `-keys "random"`},
		{"empty key mode", []string{"-keys", ""}, `-keys ""`},
		{"dup without share", []string{"-keys", "dup"}, "needs 0 <= SHARE < 1"},
		{"dup share 1", []string{"-keys", "dup:1"}, "needs 0 <= SHARE < 1"},
		{"dup share negative", []string{"-keys", "dup:-0.1"}, "needs 0 <= SHARE < 1"},
		{"dup share not a number", []string{"-keys", "dup:half"}, "needs 0 <= SHARE < 1"},
		{"dup share NaN", []string{"-keys", "dup:NaN"}, "needs 0 <= SHARE < 1"},
		{"dup share infinite", []string{"-keys", "dup:Inf"}, "needs 0 <= SHARE < 1"},
		{"unique with share", []string{"-keys", "unique:0.5"}, `-keys "unique:0.5"`},
		{"none with share", []string{"-keys", "none:x"}, `-keys "none:x"`},
		{"extra argument", []string{"-c", "2", "http://a:1"}, `unexpected argument "http://a:1"`},
		{"trailing comma in urls", []string{"-urls", "http://a:1,"}, `-urls: "" is not`},
		{"url without scheme", []string{"-urls", "127.0.0.1:8080"}, `-urls: "127.0.0.1:8080" is not`},
		{"other scheme", []string{"-urls", "ftp://a:1"}, `-urls: "ftp://a:1" is not`},
		{"url without host", []string{"-urls", "http:///sum"}, `-urls: "http:///sum" is not`},
		{"url with query", []string{"-urls", "http://a:1/?x=1"}, "want scheme://host[:port][/path] only"},
		{"url with user", []string{"-urls", "http://u:p@a:1"}, "want scheme://host[:port][/path] only"},
		{"key prefix with space", []string{"-key-prefix", "a b"}, "-key-prefix: want visible ASCII"},
		{"key prefix with newline", []string{"-key-prefix", "a\r\nX-Evil: 1"}, "-key-prefix: want visible ASCII"},
		{"key prefix too long", []string{"-key-prefix", strings.Repeat("k", 237)}, "at most 236 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stderr bytes.Buffer
			_, err := parseConfig(tt.args, &stderr)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("parseConfig(%q): got error %v, want one containing %q", tt.args, err, tt.want)
			}
		})
	}
}

// TestParseConfigUsage checks that a flag error prints the usage to the
// given stderr, not the process's.
func TestParseConfigUsage(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	if _, err := parseConfig([]string{"-bogus"}, &stderr); err == nil {
		t.Fatal("parseConfig(-bogus): got nil error, want one")
	}
	for _, want := range []string{"-bogus", "-keys", "-urls"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr %q: want it to mention %s", stderr.String(), want)
		}
	}
}
