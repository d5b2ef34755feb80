package main

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"

	"idemsum/idempotency/redisstore"
)

// The values of -redis-mode.
const (
	modeAuto     = "auto"     // sentinel with master_name, cluster with several addresses, else single
	modeSingle   = "single"   // one Redis server (redis.ParseURL)
	modeCluster  = "cluster"  // Redis Cluster, the URL's addresses as seeds (redis.ParseClusterURL)
	modeSentinel = "sentinel" // the master that the URL's sentinels name (redis.ParseFailoverURL)
)

var redisModes = []string{modeAuto, modeSingle, modeCluster, modeSentinel}

// The client options sumd sets in every mode: a Redis that does not answer
// within 250ms counts as down (the Guard then bypasses it), one dial per
// attempt (go-redis otherwise dials five times with a 100ms backoff, so
// every probe of a Redis that refuses connections would hold its requests
// for ~1.7s instead of the dial timeout), and no retries: MaxRetries -1,
// go-redis's "none" (0 means its default of 3). And RESP2 unless the URL
// asks for protocol=3: sumd uses no RESP3 feature, and go-redis checks
// every RESP3 reply for push notifications first (about 4% of sumd's CPU
// under load).
const redisTimeout = 250 * time.Millisecond

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

// openRedis returns nil in MySQL-only mode, and the mode it resolved. It
// does not wait for Redis: sumd starts, degraded, while Redis is down, and
// uses it once it answers.
func openRedis(cfg config) (redis.UniversalClient, string, error) {
	if cfg.RedisURL == "" || cfg.RedisURL == "off" {
		return nil, "", nil
	}
	u, err := url.Parse(cfg.RedisURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error quotes the URL, password and all
		}
		return nil, "", fmt.Errorf("-redis-url: %w", err)
	}
	mode, err := redisMode(u, cfg.RedisMode)
	if err != nil {
		return nil, "", fmt.Errorf("-redis-url %s: %w", u.Redacted(), err)
	}
	c, err := newRedisClient(cfg, mode)
	if err != nil {
		return nil, "", fmt.Errorf("-redis-url %s (%s): %w", u.Redacted(), mode, err)
	}
	return c, mode, nil
}

// redisMode resolves -redis-mode against what the URL holds: master_name
// (Sentinel) and addr parameters (more addresses: cluster seeds or
// sentinels).
func redisMode(u *url.URL, mode string) (string, error) {
	q := u.Query()
	named, several := q.Has("master_name"), q.Has("addr")
	if mode == modeAuto {
		switch {
		case named:
			mode = modeSentinel
		case several:
			mode = modeCluster
		default:
			mode = modeSingle
		}
	}
	switch mode {
	case modeSingle:
		if named || several {
			return "", errors.New("-redis-mode single takes one address and no master_name (addr= lists more addresses: -redis-mode cluster or sentinel)")
		}
	case modeCluster:
		if named {
			return "", errors.New("-redis-mode cluster takes no master_name (that names a Sentinel master: -redis-mode sentinel)")
		}
		if p := u.Path; p != "" && p != "/" && p != "/0" {
			return "", fmt.Errorf("database %q: Redis Cluster has only database 0", p)
		}
	case modeSentinel:
		if !named || q.Get("master_name") == "" {
			return "", errors.New("-redis-mode sentinel needs master_name=NAME, the master the sentinels watch")
		}
	default:
		return "", fmt.Errorf("-redis-mode %q: want one of %v", mode, redisModes)
	}
	return mode, nil
}

// newRedisClient parses cfg.RedisURL with go-redis's parser for mode and
// sets sumd's options.
func newRedisClient(cfg config, mode string) (redis.UniversalClient, error) {
	switch mode {
	case modeCluster:
		if err := redisstore.CheckPrefix(cfg.RedisPrefix); err != nil {
			return nil, fmt.Errorf("-redis-prefix %q: %w", cfg.RedisPrefix, err)
		}
		opt, err := redis.ParseClusterURL(cfg.RedisURL)
		if err != nil {
			return nil, err
		}
		opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = redisTimeout, redisTimeout, redisTimeout
		opt.MaxRetries, opt.DialerRetries, opt.MaxRedirects = -1, 1, maxRedirects
		opt.Protocol = protocol(cfg.RedisURL, opt.Protocol)
		return redis.NewClusterClient(opt), nil
	case modeSentinel:
		opt, err := redis.ParseFailoverURL(cfg.RedisURL)
		if err != nil {
			return nil, err
		}
		opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = redisTimeout, redisTimeout, redisTimeout
		opt.MaxRetries, opt.DialerRetries = -1, 1
		opt.Protocol = protocol(cfg.RedisURL, opt.Protocol)
		return redis.NewFailoverClient(opt), nil
	default:
		opt, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return nil, err
		}
		opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = redisTimeout, redisTimeout, redisTimeout
		opt.MaxRetries, opt.DialerRetries = -1, 1
		opt.Protocol = protocol(cfg.RedisURL, opt.Protocol)
		return redis.NewClient(opt), nil
	}
}
