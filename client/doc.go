// Package client is a Go client of the idemsum HTTP API (docs/api.md)
// that does the client's half of exactly-once: it generates an
// idempotency key once per addition, sends it with every attempt, and
// retries that same key across the instances it was given. A keyed
// addition retried this way is added exactly once whatever the failures
// in between: the server replays the first outcome to every later
// attempt. It uses the standard library only.
//
// # Which answers are retried
//
// A call is sent again, to the next instance in turn, after a network
// error or an attempt cut by WithAttemptTimeout; a 408, a 409 (the key is
// in flight), a 429 or a 5xx; or a 2xx whose body is not {"total": N}
// (something in front of sumd answered). Every other answer is final and
// returned as an *Error: a 4xx is an answer about the request, and a 3xx
// is never followed (sumd never redirects; following would turn the POST
// into a GET whose 200 looks like success, or hand the number and the
// token to another server).
//
// An addition without a key (WithoutKey) is retried only when nothing can
// have been added: the request was never sent (no connection), or the
// answer was a 408 or 429, or a 5xx idemsum problem whose outcome member
// is "not-added". An attempt whose request was sent and whose answer
// never came, a 5xx without that member (a proxy's error page, an older
// sumd), a problem of type urn:idemsum:problem:outcome-unknown, and a 2xx
// that is not a total may have added: Add then stops with
// ErrOutcomeUnknown. The problem's detail text is never read.
//
// # How long it waits
//
// Between attempts the Client backs off (WithBackoff). A Retry-After is
// capped at MaxRetryAfter (WithMaxRetryAfter lowers the cap). On a 409 it
// is about the key: the next attempt, on whichever instance, waits that
// long. On a 429 or a 5xx it is about the instance: the Client (all its
// calls) asks the other instances first, and waits only when every
// instance is within its Retry-After, for the one that ends first. The
// first attempt of a call never waits: it goes to the next instance that
// is not within its Retry-After, or else to the one whose Retry-After
// ends first.
//
// # Deadlines
//
// A call ends when its context does, or at once when the next attempt
// could not start before the context's deadline. Its error then wraps the
// context's error (context.DeadlineExceeded when the deadline passed or
// would pass first), the last attempt's failure, and the last failure the
// service answered (such as ErrInFlight); and ErrOutcomeUnknown when an
// attempt of an addition may have added — in particular when the context
// cut an attempt whose request had been sent.
package client
