// Package redis is what sumd needs of Redis beside the idempotency Store
// (idempotency/redisstore): the client of each of its three modes, one
// server, Redis Cluster or Sentinel, with sumd's timeouts and RESP version
// (Open, options.go); whether Redis can take claims now, and if not why,
// for /readyz and the metrics (Health, health.go; reason.go names the
// reason of an error); the probe of every master of a cluster
// (clusterprobe.go); and its metrics (metrics.go).
//
// It imports go-redis, whose package is also named redis: callers that
// use both name one of them otherwise.
package redis
