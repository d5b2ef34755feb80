package redisstore

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Every command of the Store is sent once. A Redis Cluster client of
// go-redis retries a command after a network error, a timeout, CLUSTERDOWN
// or TRYAGAIN (sharing its MaxRedirects budget with the MOVED and ASK
// redirects, and ignoring MaxRetries), and re-sends a whole pipeline that
// failed midway, replies read or not. A claim that ran before its reply was
// lost would then meet itself and report the key in flight: a 409, and the
// key blocked for a lease. So the Store marks its commands NoRetry: go-redis
// still follows MOVED and ASK (a redirected command did not run), and the
// caller hears of any other failure at once, as with MaxRetries 0 on one
// Redis, and falls back to its fence.

// onceCmd is a command go-redis sends at most once (but redirects).
type onceCmd struct{ *redis.Cmd }

// NoRetry tells go-redis not to send the command again after a failure.
func (onceCmd) NoRetry() bool { return true }

// processor is a client or a pipeline.
type processor interface {
	Process(ctx context.Context, cmd redis.Cmder) error
}

// script is a Lua script, run with EVALSHA and, where Redis does not know
// it (after a restart, a SCRIPT FLUSH, on a replica promoted since it was
// loaded), with EVAL.
type script struct{ src, sha string }

func newScript(src string) *script {
	sum := sha1.Sum([]byte(src))
	return &script{src: src, sha: hex.EncodeToString(sum[:])}
}

// evalSha queues (on a pipeline) or runs (on a client) s as EVALSHA.
func (s *script) evalSha(ctx context.Context, p processor, keys []string, args ...any) *redis.Cmd {
	return eval(ctx, p, "evalsha", s.sha, keys, args)
}

// run runs s on c with EVALSHA, then EVAL if Redis does not know it.
func (s *script) run(ctx context.Context, c processor, keys []string, args ...any) *redis.Cmd {
	cmd := s.evalSha(ctx, c, keys, args...)
	if noScript(cmd.Err()) {
		cmd = eval(ctx, c, "eval", s.src, keys, args)
	}
	return cmd
}

func eval(ctx context.Context, p processor, name, payload string, keys []string, args []any) *redis.Cmd {
	a := make([]any, 0, 3+len(keys)+len(args))
	a = append(a, name, payload, len(keys))
	for _, k := range keys {
		a = append(a, k)
	}
	return once(ctx, p, append(a, args...)...)
}

// once queues or runs the command args, marked NoRetry.
func once(ctx context.Context, p processor, args ...any) *redis.Cmd {
	cmd := redis.NewCmd(ctx, args...)
	if len(args) > 3 && (args[0] == "eval" || args[0] == "evalsha") {
		cmd.SetFirstKeyPos(3)
	}
	p.Process(ctx, onceCmd{cmd})
	return cmd
}

func noScript(err error) bool { return err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") }
