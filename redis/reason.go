package redis

import (
	"context"
	"errors"
	"net"
	"os"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Reasons are the reasons a Health gives for Redis being down, as
// /readyz's redis_reason and the label of idemsum_redis_down. When several
// masters of a cluster fail, the first of their reasons in this order is
// given.
var Reasons = []string{"clusterdown", "masterdown", "tryagain", "loading", "readonly", "oom", "auth", "unreachable", "error"}

// reason names why err means Redis cannot take claims; "" for nil. Of
// errors joined (several masters of a cluster), it names the first reason
// in Reasons that any of them has.
func reason(err error) string {
	if err == nil {
		return ""
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		r := "error"
		for _, e := range j.Unwrap() {
			if er := reason(e); slices.Index(Reasons, er) < slices.Index(Reasons, r) {
				r = er
			}
		}
		return r
	}
	msg := err.Error()
	for prefix, r := range map[string]string{
		"OOM": "oom", "READONLY": "readonly", "LOADING": "loading",
		"NOAUTH": "auth", "WRONGPASS": "auth", "NOPERM": "auth",
		"CLUSTERDOWN": "clusterdown", "MASTERDOWN": "masterdown",
		// TRYAGAIN: a multi-key command during resharding; MOVED and ASK
		// surface only once the redirects are used up: slots are moving.
		"TRYAGAIN": "tryagain", "MOVED": "tryagain", "ASK": "tryagain",
	} {
		if strings.HasPrefix(msg, prefix) || strings.Contains(msg, ": "+prefix+" ") {
			return r
		}
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, redis.ErrClosed) || strings.Contains(msg, "EOF") || strings.Contains(msg, "connection") {
		return "unreachable"
	}
	return "error"
}
