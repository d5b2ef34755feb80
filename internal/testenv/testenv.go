// Package testenv gives integration tests their own MySQL database and
// Redis key space on the real services, created for one test and dropped in
// its Cleanup, so tests run in parallel without seeing each other.
//
// The services are found at IDEMSUM_TEST_MYSQL_DSN (default
// root@tcp(127.0.0.1:3306)/test) and IDEMSUM_TEST_REDIS_URL (default
// redis://127.0.0.1:6379/0). When one does not answer, the test is skipped
// with a clear message, unless IDEMSUM_REQUIRE_SERVICES=1 (set by .ci/run),
// which turns the skip into a failure.
package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"
)

// MySQLDSN returns the DSN of the test server, without a database chosen.
func MySQLDSN() string {
	if v := os.Getenv("IDEMSUM_TEST_MYSQL_DSN"); v != "" {
		return v
	}
	return "root@tcp(127.0.0.1:3306)/test"
}

// RedisURL returns the URL of the test Redis server.
func RedisURL() string {
	if v := os.Getenv("IDEMSUM_TEST_REDIS_URL"); v != "" {
		return v
	}
	return "redis://127.0.0.1:6379/0"
}

// Unique returns a short random name part, such as "3fa85f64c2a1".
func Unique() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// absent skips tb, or fails it when CI requires the services.
func absent(tb testing.TB, what string, err error) {
	tb.Helper()
	Missing(tb, fmt.Sprintf("%s is not answering (%v); run scripts/services.sh to start it", what, err))
}

// Missing skips tb because something it needs is missing (why says what,
// and how to provide it), or fails it when IDEMSUM_REQUIRE_SERVICES=1: CI
// provides everything, so there a missing service, tool or piece of
// history is a failure, never a silent skip.
func Missing(tb testing.TB, why string) {
	tb.Helper()
	if os.Getenv("IDEMSUM_REQUIRE_SERVICES") == "1" {
		tb.Fatalf("required (IDEMSUM_REQUIRE_SERVICES=1) but missing: %s", why)
	}
	tb.Skip(why)
}

// MySQL creates an empty database for tb, drops it in Cleanup, and returns
// a go-sql-driver DSN that selects it.
func MySQL(tb testing.TB) string {
	tb.Helper()
	cfg, err := mysql.ParseDSN(MySQLDSN())
	if err != nil {
		tb.Fatalf("parse test DSN: %v", err)
	}
	cfg.DBName = ""
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		tb.Fatalf("open mysql: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		absent(tb, "MySQL at "+MySQLDSN(), err)
	}
	name := "idemsum_t_" + Unique()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		db.Close()
		tb.Fatalf("create database: %v", err)
	}
	tb.Cleanup(func() {
		defer db.Close()
		if _, err := db.Exec("DROP DATABASE " + name); err != nil {
			tb.Errorf("drop database %s: %v", name, err)
		}
	})
	cfg.DBName = name
	return cfg.FormatDSN()
}

// Redis returns a client of the test Redis and a key prefix of tb's own;
// in Cleanup it deletes every key under the prefix and closes the client.
func Redis(tb testing.TB) (*redis.Client, string) {
	tb.Helper()
	opt, err := redis.ParseURL(RedisURL())
	if err != nil {
		tb.Fatalf("parse test Redis URL: %v", err)
	}
	c := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		absent(tb, "Redis at "+RedisURL(), err)
	}
	prefix := fmt.Sprintf("idemsum:t:%s:", Unique())
	tb.Cleanup(func() {
		defer c.Close()
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
	return c, prefix
}
