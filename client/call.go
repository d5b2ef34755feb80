package client

import (
	"context"
	"time"
)

// history is what the attempts of one call have said so far.
type history struct {
	last      error         // the last attempt's failure
	answer    error         // the last failure the service answered
	answered  bool          // last is answer
	uncertain bool          // an attempt of an addition may have added
	keyWait   time.Duration // the next attempt waits this long (a 409's Retry-After)
}

// call sends req until an answer not to retry (see the package doc),
// starting at the next instance in turn and moving on to the following
// one after each failure.
func (c *Client) call(ctx context.Context, req request) (Result, error) {
	var res Result
	var h history
	from := int(c.next.Add(1) % uint64(len(c.urls)))
	for {
		i, wait := c.pick(from)
		if res.Attempts > 0 {
			wait = max(wait, h.keyWait, c.backoff(res.Attempts-1))
			if err := c.pause(ctx, wait, res.Attempts); err != nil {
				return res, h.gaveUp(res.Attempts, err)
			}
		}
		v := judge(c.attempt(ctx, c.urls[i], req))
		res.Attempts++
		if v.err == nil {
			res.Total, res.Replayed = v.total, v.replayed
			return res, nil
		}
		if err := h.note(ctx, req, v, res.Attempts); err != nil {
			return res, err
		}
		c.hold(i, min(v.hostWait, c.maxRetryAfter))
		h.keyWait = min(v.keyWait, c.maxRetryAfter)
		from = i + 1
	}
}

// note records the failed attempt v of req, and returns the call's error
// if it must end: v is final, ctx has ended, or an addition without a key
// may have been made.
func (h *history) note(ctx context.Context, req request, v verdict, attempts int) error {
	h.last, h.answered = v.err, v.answered
	if v.answered {
		h.answer = v.err
	}
	h.uncertain = h.uncertain || (v.mayAdd && !req.safe)
	switch {
	case v.final && h.uncertain:
		return &unknown{v.err}
	case v.final:
		return v.err
	case ctx.Err() != nil:
		return h.gaveUp(attempts, ctx.Err())
	case req.keyless && h.uncertain:
		return h.gaveUp(attempts, errKeyless)
	}
	return nil
}

// gaveUp returns the error of a call that stops after attempts, for why.
func (h *history) gaveUp(attempts int, why error) error {
	g := &gaveUp{attempts: attempts, why: why, last: h.last, unknown: h.uncertain}
	if !h.answered {
		g.answer = h.answer
	}
	return g
}
