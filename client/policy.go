package client

import (
	"fmt"
	"math/big"
	"net/http"
	"time"
)

// verdict is what the reply to one attempt means for its call.
type verdict struct {
	total    *big.Int      // the answer (err == nil): the call succeeded
	replayed bool          // the answer is a replay
	err      error         // else the attempt's failure
	final    bool          // retrying cannot help: the call ends with err
	answered bool          // err is an answer of the service, not a lost one
	mayAdd   bool          // the attempt may have added (were it an addition)
	keyWait  time.Duration // the next attempt, on any instance, waits this long
	hostWait time.Duration // the instance is not asked again for this long
}

// judge returns the verdict on rep: which answers are retried, which may
// have added, which Retry-After applies to what (see the package doc).
func judge(rep reply) verdict {
	switch {
	case rep.err != nil:
		return verdict{err: rep.err, mayAdd: rep.sent}
	case rep.status/100 == 2:
		total, err := parseTotal(rep.status, rep.body)
		return verdict{total: total, replayed: rep.header.Get("Idempotent-Replayed") == "true",
			err: err, answered: true, mayAdd: true}
	case rep.status/100 == 3:
		return verdict{err: redirected(rep), final: true, answered: true}
	}
	e := problemOf(rep)
	v := verdict{err: e, answered: true}
	switch {
	case e.Status == http.StatusConflict: // about the key: in flight elsewhere
		v.keyWait = e.RetryAfter
	case e.Status == http.StatusRequestTimeout:
	case e.Status == http.StatusTooManyRequests:
		v.hostWait = e.RetryAfter
	case e.Status/100 == 4: // an answer about the request
		v.final = true
	default: // a 5xx, or a status no server should send
		v.hostWait, v.mayAdd = e.RetryAfter, !e.notAdded()
	}
	return v
}

// redirected returns the *Error of a 3xx, which is never followed.
func redirected(rep reply) *Error {
	loc := rep.header.Get("Location")
	return &Error{Status: rep.status, Title: http.StatusText(rep.status), Location: loc,
		Detail: fmt.Sprintf("redirected to %q, not followed (sumd never redirects: something in front of it did); this request added nothing", loc)}
}
