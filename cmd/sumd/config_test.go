package main

import (
	"io"
	"strings"
	"testing"
)

func TestRedisModeFlag(t *testing.T) {
	t.Parallel()
	c, err := parseConfig(nil, func(k string) string { return map[string]string{"SUM_REDIS_MODE": "cluster"}[k] }, io.Discard)
	if err != nil || c.RedisMode != "cluster" {
		t.Errorf("SUM_REDIS_MODE=cluster: got %q, %v", c.RedisMode, err)
	}
	if d, _ := parseConfig(nil, func(string) string { return "" }, io.Discard); d.RedisMode != "auto" {
		t.Errorf("default -redis-mode = %q, want auto", d.RedisMode)
	}
	if _, err := parseConfig([]string{"-redis-mode", "ring"}, func(string) string { return "" }, io.Discard); err == nil || !strings.Contains(err.Error(), "want one of") {
		t.Errorf("-redis-mode ring: got %v, want an error listing the modes", err)
	}
}
