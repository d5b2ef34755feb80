package redis

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idemsum/idemsum/idempotency/redisstore"
)

// The modes of Options.Mode (sumd's -redis-mode).
const (
	ModeAuto     = "auto"     // sentinel with master_name, cluster with several addresses, else single
	ModeSingle   = "single"   // one Redis server (redis.ParseURL)
	ModeCluster  = "cluster"  // Redis Cluster, the URL's addresses as seeds (redis.ParseClusterURL)
	ModeSentinel = "sentinel" // the master that the URL's sentinels name (redis.ParseFailoverURL)
)

// Modes are the values Options.Mode may take.
var Modes = []string{ModeAuto, ModeSingle, ModeCluster, ModeSentinel}

// Options say which Redis to use and how: sumd's -redis-url, -redis-mode
// and -redis-prefix, whose names Open's errors use.
type Options struct {
	// URL is a Redis URL in go-redis's forms: redis[s]://host:port/db; a
	// cluster redis://h1:p1?addr=h2:p2&addr=h3:p3; Sentinel
	// redis://s1:26379/0?master_name=M&addr=s2:26379. "" or "off" means
	// no Redis.
	URL string
	// Mode is how to read URL: one of Modes; "" is not valid.
	Mode string
	// Prefix is the prefix of every key; on a cluster it must hold no hash
	// tag (redisstore.CheckPrefix).
	Prefix string
}

// The client options Open sets in every mode: a Redis that does not answer
// within 250ms counts as down (the Guard then bypasses it), one dial per
// attempt (go-redis otherwise dials five times with a 100ms backoff, so
// every probe of a Redis that refuses connections would hold its requests
// for ~1.7s instead of the dial timeout), and no retries: MaxRetries -1,
// go-redis's "none" (0 means its default of 3). And RESP2 unless the URL
// asks for protocol=3: sumd uses no RESP3 feature, and go-redis checks
// every RESP3 reply for push notifications first (about 4% of sumd's CPU
// under load).
const timeout = 250 * time.Millisecond

// protocol is the RESP version to speak: parsed, what go-redis's parser
// read from the URL's protocol=, if it has one; else 2.
func protocol(rawURL string, parsed int) int {
	if u, err := url.Parse(rawURL); err == nil && u.Query().Has("protocol") {
		return parsed
	}
	return 2
}

// maxRedirects bounds the MOVED and ASK redirects a cluster client
// follows for one command. It is also the budget of go-redis's cluster
// retries (which ignore MaxRetries), but the Store marks its commands
// NoRetry, so for them it bounds redirects alone. 0 would mean go-redis's
// default (3), -1 no redirects at all: a cluster must follow them.
const maxRedirects = 3

// Open returns the client that o asks for, with the options above, and
// the mode it resolved; nil and "" when o.URL is "" or "off" (MySQL-only
// mode). It does not wait for Redis: sumd starts, degraded, while Redis is
// down, and uses it once it answers. Its errors name the flag at fault and
// never show the URL's password.
func Open(o Options) (redis.UniversalClient, string, error) {
	if o.URL == "" || o.URL == "off" {
		return nil, "", nil
	}
	u, err := url.Parse(o.URL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error quotes the URL, password and all
		}
		return nil, "", fmt.Errorf("-redis-url: %w", err)
	}
	mode, err := resolveMode(u, o.Mode)
	if err != nil {
		return nil, "", fmt.Errorf("-redis-url %s: %w", u.Redacted(), err)
	}
	c, err := newClient(o, mode)
	if err != nil {
		return nil, "", fmt.Errorf("-redis-url %s (%s): %w", u.Redacted(), mode, err)
	}
	return c, mode, nil
}

// resolveMode resolves -redis-mode against what the URL holds: master_name
// (Sentinel) and addr parameters (more addresses: cluster seeds or
// sentinels).
func resolveMode(u *url.URL, mode string) (string, error) {
	q := u.Query()
	named, several := q.Has("master_name"), q.Has("addr")
	if mode == ModeAuto {
		switch {
		case named:
			mode = ModeSentinel
		case several:
			mode = ModeCluster
		default:
			mode = ModeSingle
		}
	}
	switch mode {
	case ModeSingle:
		if named || several {
			return "", errors.New("-redis-mode single takes one address and no master_name (addr= lists more addresses: -redis-mode cluster or sentinel)")
		}
	case ModeCluster:
		if named {
			return "", errors.New("-redis-mode cluster takes no master_name (that names a Sentinel master: -redis-mode sentinel)")
		}
		if p := u.Path; p != "" && p != "/" && p != "/0" {
			return "", fmt.Errorf("database %q: Redis Cluster has only database 0", p)
		}
	case ModeSentinel:
		if !named || q.Get("master_name") == "" {
			return "", errors.New("-redis-mode sentinel needs master_name=NAME, the master the sentinels watch")
		}
	default:
		return "", fmt.Errorf("-redis-mode %q: want one of %v", mode, Modes)
	}
	return mode, nil
}

// newClient parses o.URL with go-redis's parser for mode and sets sumd's
// options.
func newClient(o Options, mode string) (redis.UniversalClient, error) {
	switch mode {
	case ModeCluster:
		if err := redisstore.CheckPrefix(o.Prefix); err != nil {
			return nil, fmt.Errorf("-redis-prefix %q: %w", o.Prefix, err)
		}
		opt, err := redis.ParseClusterURL(o.URL)
		if err != nil {
			return nil, err
		}
		opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = timeout, timeout, timeout
		opt.MaxRetries, opt.DialerRetries, opt.MaxRedirects = -1, 1, maxRedirects
		opt.Protocol = protocol(o.URL, opt.Protocol)
		return redis.NewClusterClient(opt), nil
	case ModeSentinel:
		opt, err := redis.ParseFailoverURL(o.URL)
		if err != nil {
			return nil, err
		}
		opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = timeout, timeout, timeout
		opt.MaxRetries, opt.DialerRetries = -1, 1
		opt.Protocol = protocol(o.URL, opt.Protocol)
		return redis.NewFailoverClient(opt), nil
	default:
		opt, err := redis.ParseURL(o.URL)
		if err != nil {
			return nil, err
		}
		opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = timeout, timeout, timeout
		opt.MaxRetries, opt.DialerRetries = -1, 1
		opt.Protocol = protocol(o.URL, opt.Protocol)
		return redis.NewClient(opt), nil
	}
}
