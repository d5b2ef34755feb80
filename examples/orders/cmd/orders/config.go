package main

import (
	"errors"
	"flag"
	"io"
	"time"
)

// config is the command line.
type config struct {
	Addr           string
	MySQLDSN       string
	Store          string // mysql or redis
	RedisURL       string
	RedisPrefix    string
	RedisSecret    string
	WarehouseURL   string // empty: an in-process fake
	WarehouseDelay time.Duration
	Lease, KeyTTL  time.Duration
}

// parseConfig reads args; each flag's default comes from getenv.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	dur := func(name, def string) time.Duration {
		d, _ := time.ParseDuration(env(name, def))
		return d
	}
	fs.StringVar(&c.Addr, "addr", env("ORDERS_ADDR", "127.0.0.1:8090"), "listen address (env ORDERS_ADDR)")
	fs.StringVar(&c.MySQLDSN, "mysql-dsn", env("ORDERS_MYSQL_DSN", "root@tcp(127.0.0.1:3306)/test"), "go-sql-driver DSN of the orders database (env ORDERS_MYSQL_DSN)")
	fs.StringVar(&c.Store, "store", env("ORDERS_STORE", "mysql"), "where idempotency claims and records live: mysql or redis (env ORDERS_STORE)")
	fs.StringVar(&c.RedisURL, "redis-url", env("ORDERS_REDIS_URL", "redis://127.0.0.1:6379/0"), "Redis, with -store=redis (env ORDERS_REDIS_URL)")
	fs.StringVar(&c.RedisPrefix, "redis-prefix", env("ORDERS_REDIS_PREFIX", "orders:"), "prefix of every Redis key (env ORDERS_REDIS_PREFIX)")
	fs.StringVar(&c.RedisSecret, "redis-secret", env("ORDERS_REDIS_SECRET", ""), "secret that signs the records in Redis, the same for every instance (env ORDERS_REDIS_SECRET)")
	fs.StringVar(&c.WarehouseURL, "warehouse-url", env("ORDERS_WAREHOUSE_URL", ""), "the warehouse service; empty: a fake in the process (env ORDERS_WAREHOUSE_URL)")
	fs.DurationVar(&c.WarehouseDelay, "warehouse-delay", dur("ORDERS_WAREHOUSE_DELAY", "500ms"), "how long the fake warehouse takes (env ORDERS_WAREHOUSE_DELAY)")
	fs.DurationVar(&c.Lease, "lease", dur("ORDERS_LEASE", "5s"), "how long a request holds its key's claim (env ORDERS_LEASE)")
	fs.DurationVar(&c.KeyTTL, "key-ttl", dur("ORDERS_KEY_TTL", "24h"), "how long a key is remembered (env ORDERS_KEY_TTL)")
	if err := fs.Parse(args[1:]); err != nil {
		return c, err
	}
	switch {
	case c.Store != "mysql" && c.Store != "redis":
		return c, errors.New("-store: want mysql or redis")
	case c.Store == "redis" && c.RedisSecret == "":
		return c, errors.New("-store=redis needs -redis-secret")
	case c.Lease <= 0 || c.KeyTTL <= 0 || c.WarehouseDelay < 0:
		return c, errors.New("-lease and -key-ttl must be positive durations, -warehouse-delay not negative")
	}
	return c, nil
}
