package redisstore

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// pipe sends the scripts of concurrent callers to Redis together, in one
// pipelined round trip: group commit for Redis. While up to its slots of
// round trips are in flight, calls queue and leave together when one
// returns, so under load the round trips (and system calls) per call fall
// without adding latency when idle.
//
// It has the shape of package groupcommit (which gathers additions into one
// MySQL transaction) but is not shared with it: the toolkit imports
// nothing of the service, groupcommit waits up to a batch-wait and drains
// on Close, and its batch is one Ledger call whose results it splits, while
// a pipeline is many independent commands. A common generic primitive
// would save some twenty lines and couple the two; not worth it.
type pipe struct {
	c     redis.UniversalClient
	in    chan *call
	slots chan struct{}
}

// call is one script run, or one plain command (script nil, args the
// whole command), waiting for its pipeline.
type call struct {
	script *script
	keys   []string
	args   []any
	cmd    *redis.Cmd
	done   chan struct{}
}

// maxPipeline bounds the calls sent in one round trip.
const maxPipeline = 128

func newPipe(c redis.UniversalClient, slots int) *pipe {
	p := &pipe{c: c, in: make(chan *call, 4*maxPipeline), slots: make(chan struct{}, slots)}
	go p.loop()
	return p
}

// run runs script on keys and args in the next pipeline and returns its
// result. It waits for the pipeline even when ctx ends, so that a claim
// taken is never left without its caller knowing.
func (p *pipe) run(script *script, keys []string, args ...any) *redis.Cmd {
	return p.wait(&call{script: script, keys: keys, args: args, done: make(chan struct{})})
}

// do sends the plain command args (such as "get", name) in the next
// pipeline and returns its result: far cheaper for Redis than a script
// (in Redis's own accounting an EVALSHA of a two-command script took 6.6µs
// here, a GET or SET 1-3µs).
func (p *pipe) do(args ...any) *redis.Cmd {
	return p.wait(&call{args: args, done: make(chan struct{})})
}

func (p *pipe) wait(c *call) *redis.Cmd {
	p.in <- c
	<-c.done
	return c.cmd
}

func (p *pipe) loop() {
	for c := range p.in {
		p.slots <- struct{}{}
		calls := []*call{c}
	drain:
		for len(calls) < maxPipeline {
			select {
			case c := <-p.in:
				calls = append(calls, c)
			default:
				break drain
			}
		}
		go p.send(calls)
	}
}

// send runs calls (scripts as EVALSHA) in one pipeline (on Redis Cluster, go-redis
// splits it into one pipeline per master, sent concurrently); a script
// Redis no longer knows (after a restart, SCRIPT FLUSH or failover) is then
// run with EVAL. Each command is sent once (see once.go).
func (p *pipe) send(calls []*call) {
	defer func() { <-p.slots }()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if len(calls) == 1 {
		c := calls[0]
		if c.script == nil {
			c.cmd = once(ctx, p.c, c.args...)
		} else {
			c.cmd = c.script.run(ctx, p.c, c.keys, c.args...)
		}
		close(c.done)
		return
	}
	p.c.Pipelined(ctx, func(pl redis.Pipeliner) error {
		for _, c := range calls {
			if c.script == nil {
				c.cmd = once(ctx, pl, c.args...)
			} else {
				c.cmd = c.script.evalSha(ctx, pl, c.keys, c.args...)
			}
		}
		return nil
	})
	for _, c := range calls {
		if c.script != nil && noScript(c.cmd.Err()) {
			c.cmd = eval(ctx, p.c, "eval", c.script.src, c.keys, c.args)
		}
		close(c.done)
	}
}
