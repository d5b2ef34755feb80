package redisstore

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
)

// ErrPrefixHashTag reports a prefix that holds a Redis Cluster hash tag
// ("{" followed later by "}"), which would decide the slot of every key
// instead of the per-key tag: see the package doc.
var ErrPrefixHashTag = errors.New(`redisstore: the prefix holds a hash tag ("{...}"); on Redis Cluster it would put every key in one slot, or with "{}" a key's claim and record in different slots`)

// ClaimName returns the Redis name of key's claim in a Store with prefix:
// prefix, key's hash tag, "claim:" and key.
func ClaimName(prefix, key string) string { return prefix + hashTag(key) + "claim:" + key }

// RecordName returns the Redis name of key's record in a Store with
// prefix: prefix, key's hash tag, "rec:" and key.
func RecordName(prefix, key string) string { return prefix + hashTag(key) + "rec:" + key }

// hashTag returns "{H}:" where H is the first 16 hex digits of key's
// SHA-256: a fixed-length tag without braces, whatever key holds, so that
// a key's claim and record share one slot and different keys spread.
func hashTag(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "{" + hex.EncodeToString(sum[:8]) + "}:"
}

// CheckPrefix returns ErrPrefixHashTag if prefix holds a hash tag of its
// own, and nil otherwise. Such a prefix is harmless on a single Redis or
// behind Sentinel; on Redis Cluster, check it before use.
func CheckPrefix(prefix string) error {
	i := strings.IndexByte(prefix, '{')
	if i >= 0 && strings.IndexByte(prefix[i+1:], '}') >= 0 {
		return ErrPrefixHashTag
	}
	return nil
}
