package redisstore

import (
	"context"
	"strings"
	"sync"
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
	c       redis.UniversalClient
	in      chan *call
	slots   chan struct{}
	pending sync.WaitGroup // calls started and not yet answered
}

// call is one script run waiting for its pipeline: a caller waits on done,
// or then is called with the result.
type call struct {
	script *redis.Script
	keys   []string
	args   []any
	cmd    *redis.Cmd
	done   chan struct{}
	then   func(*redis.Cmd)
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
func (p *pipe) run(script *redis.Script, keys []string, args ...any) *redis.Cmd {
	c := &call{script: script, keys: keys, args: args, done: make(chan struct{})}
	p.pending.Add(1)
	p.in <- c
	<-c.done
	return c.cmd
}

// start queues script on keys and args for the next pipeline and returns
// at once; then is called with the result from the pipeline's goroutine.
func (p *pipe) start(then func(*redis.Cmd), script *redis.Script, keys []string, args ...any) {
	p.pending.Add(1)
	p.in <- &call{script: script, keys: keys, args: args, done: make(chan struct{}), then: then}
}

// drain waits until every call started so far has been answered, or ctx
// is done.
func (p *pipe) drain(ctx context.Context) error {
	done := make(chan struct{})
	go func() { p.pending.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// finish hands c's result to its caller.
func (p *pipe) finish(c *call) {
	if c.then != nil {
		c.then(c.cmd)
	}
	close(c.done)
	p.pending.Done()
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

// send runs calls as EVALSHA in one pipeline; a script Redis no longer
// knows (after a restart or SCRIPT FLUSH) is then run with EVAL.
func (p *pipe) send(calls []*call) {
	defer func() { <-p.slots }()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if len(calls) == 1 {
		c := calls[0]
		c.cmd = c.script.Run(ctx, p.c, c.keys, c.args...)
		p.finish(c)
		return
	}
	p.c.Pipelined(ctx, func(pl redis.Pipeliner) error {
		for _, c := range calls {
			c.cmd = c.script.EvalSha(ctx, pl, c.keys, c.args...)
		}
		return nil
	})
	for _, c := range calls {
		if err := c.cmd.Err(); err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
			c.cmd = c.script.Eval(ctx, p.c, c.keys, c.args...)
		}
		p.finish(c)
	}
}
