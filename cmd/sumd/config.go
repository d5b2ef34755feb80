package main

import (
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/idemsum/idemsum/idempotency"
	"github.com/idemsum/idemsum/redis"
	"github.com/idemsum/idemsum/server"
)

// config is sumd's configuration: flags whose defaults come from SUM_*
// environment variables (docs/operations.md#configuration).
type config struct {
	HTTPAddr        string
	MySQLDSN        string
	MySQLMaxConns   int
	RedisURL        string
	RedisMode       string
	RedisPrefix     string
	KeyTTL          time.Duration
	LeaseTTL        time.Duration
	ShutdownTimeout time.Duration
	ShutdownDelay   time.Duration
	BatchMax        int
	BatchWait       time.Duration
	BatchFlushers   int
	BatchFixed      bool // no adaptation of group commit (docs/design.md#group-commit)
	LogLevel        string
	MaxWait         time.Duration
	PurgeInterval   time.Duration
	MaxClockSkew    time.Duration
	PurgeBatch      int
	DebugAddr       string
	AuthTokens      string
	RedisClaims     bool
	AuthAnonymous   bool
	AllowedOrigins  string

	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration

	// Migrate: migrate the schema at start-up, or only check it
	// (-migrate=false, docs/operations.md#migrations). Version: print the
	// version and exit.
	Migrate bool
	Version bool
}

// parseConfig reads args (without the program name) over getenv defaults
// and validates the result.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	fs, errs := c.flags(getenv)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.Version { // whatever else is set
		return c, nil
	}
	if len(*errs) > 0 {
		return c, (*errs)[0]
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return c, c.validate()
}

// flags defines sumd's flags on c, each defaulting to its SUM_*
// environment variable; errs collects environment values that do not
// parse.
func (c *config) flags(getenv func(string) string) (*flag.FlagSet, *[]error) {
	fs := flag.NewFlagSet("sumd", flag.ContinueOnError)
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	errs := &[]error{}
	dur := func(name, def string) time.Duration {
		d, err := time.ParseDuration(env(name, def))
		if err != nil {
			*errs = append(*errs, fmt.Errorf("%s=%q: want a Go duration such as 5s", name, env(name, def)))
		}
		return d
	}
	boolean := func(name string) bool {
		v := env(name, "false")
		b, err := strconv.ParseBool(v)
		if err != nil {
			*errs = append(*errs, fmt.Errorf("%s=%q: want true or false", name, v))
		}
		return b
	}
	num := func(name, def string) int {
		n, err := strconv.Atoi(env(name, def))
		if err != nil {
			*errs = append(*errs, fmt.Errorf("%s=%q: want an integer", name, env(name, def)))
		}
		return n
	}
	fs.StringVar(&c.HTTPAddr, "http-addr", env("SUM_HTTP_ADDR", "127.0.0.1:8080"), "listen address (env SUM_HTTP_ADDR)")
	fs.StringVar(&c.MySQLDSN, "mysql-dsn", env("SUM_MYSQL_DSN", "root@tcp(127.0.0.1:3306)/test"), "MySQL DSN, go-sql-driver format (env SUM_MYSQL_DSN)")
	fs.IntVar(&c.MySQLMaxConns, "mysql-max-conns", num("SUM_MYSQL_MAX_CONNS", "32"), "most MySQL connections of this instance (env SUM_MYSQL_MAX_CONNS)")
	fs.StringVar(&c.RedisURL, "redis-url", redisDefault(getenv), "Redis URL in go-redis's forms: redis[s]://host:port/db; a cluster redis://h1:p1?addr=h2:p2&addr=h3:p3; Sentinel redis://s1:26379/0?master_name=M&addr=s2:26379; empty or \"off\" = MySQL-only mode (env SUM_REDIS_URL)")
	fs.StringVar(&c.RedisMode, "redis-mode", env("SUM_REDIS_MODE", redis.ModeAuto), "auto, single, cluster or sentinel: how to read -redis-url; auto = sentinel with master_name, cluster with several addresses (addr=), else single (env SUM_REDIS_MODE)")
	fs.StringVar(&c.RedisPrefix, "redis-prefix", env("SUM_REDIS_PREFIX", "idemsum:"), "prefix of every Redis key; on a cluster it must hold no {hash tag} (env SUM_REDIS_PREFIX)")
	fs.BoolVar(&c.RedisClaims, "redis-claims", boolean("SUM_REDIS_CLAIMS"), "take an in-flight claim in Redis before each fresh key, so that a concurrent duplicate gets 409 (or waits with Prefer: wait) instead of waiting for the first's commit in MySQL and replaying it; costs two Redis scripts per fresh key instead of one read and one write (env SUM_REDIS_CLAIMS)")
	fs.DurationVar(&c.KeyTTL, "key-ttl", dur("SUM_KEY_TTL", "24h"), "how long a completed key is remembered (env SUM_KEY_TTL)")
	fs.DurationVar(&c.LeaseTTL, "lease-ttl", dur("SUM_LEASE_TTL", idempotency.DefaultLease.String()), "how long an in-flight claim lives (env SUM_LEASE_TTL)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", dur("SUM_SHUTDOWN_TIMEOUT", "10s"), "bound on finishing in-flight requests at shutdown (env SUM_SHUTDOWN_TIMEOUT)")
	fs.DurationVar(&c.ShutdownDelay, "shutdown-delay", dur("SUM_SHUTDOWN_DELAY", "5s"), "on SIGTERM or SIGINT, how long /readyz answers 503 \"draining\" while requests are still served, before the listener closes; a second signal cuts it short; 0 = off (env SUM_SHUTDOWN_DELAY)")
	fs.IntVar(&c.BatchMax, "batch-max", num("SUM_BATCH_MAX", "64"), "most additions in one group-commit transaction; 1 turns batching off (env SUM_BATCH_MAX)")
	fs.DurationVar(&c.BatchWait, "batch-wait", dur("SUM_BATCH_WAIT", "0s"), "how long a batch that is not full waits for more; 0 = take what is queued (env SUM_BATCH_WAIT)")
	fs.IntVar(&c.BatchFlushers, "batch-flushers", num("SUM_BATCH_FLUSHERS", "1"), "most group-commit transactions in flight per instance (env SUM_BATCH_FLUSHERS)")
	fs.BoolVar(&c.BatchFixed, "batch-fixed", boolean("SUM_BATCH_FIXED"), "keep batches at most -batch-max, waiting only -batch-wait: no waiting for a fuller batch while commits run back to back, no larger batches while commits are slow (env SUM_BATCH_FIXED)")
	fs.DurationVar(&c.MaxWait, "max-wait", dur("SUM_MAX_WAIT", "10s"), "cap on \"Prefer: wait=S\" for duplicates of a request in flight (env SUM_MAX_WAIT)")
	fs.DurationVar(&c.PurgeInterval, "purge-interval", dur("SUM_PURGE_INTERVAL", "1m"), "how often keys older than -key-ttl plus twice -max-clock-skew are deleted from MySQL (env SUM_PURGE_INTERVAL)")
	fs.DurationVar(&c.MaxClockSkew, "max-clock-skew", dur("SUM_MAX_CLOCK_SKEW", "1m"), "largest clock difference between instances; MySQL keeps a key for -key-ttl plus twice this, so no cached record outlives its row (env SUM_MAX_CLOCK_SKEW)")
	fs.IntVar(&c.PurgeBatch, "purge-batch", num("SUM_PURGE_BATCH", "1000"), "most keys deleted per statement (env SUM_PURGE_BATCH)")
	fs.StringVar(&c.DebugAddr, "debug-addr", env("SUM_DEBUG_ADDR", ""), "if set, serve net/http/pprof on this address, e.g. 127.0.0.1:6060 (env SUM_DEBUG_ADDR)")
	fs.DurationVar(&c.ReadHeaderTimeout, "read-header-timeout", dur("SUM_READ_HEADER_TIMEOUT", "5s"), "how long a client may take to send a request's headers (env SUM_READ_HEADER_TIMEOUT)")
	fs.DurationVar(&c.ReadTimeout, "read-timeout", dur("SUM_READ_TIMEOUT", "10s"), "how long a client may take to send a whole request, body included (env SUM_READ_TIMEOUT)")
	fs.DurationVar(&c.WriteTimeout, "write-timeout", dur("SUM_WRITE_TIMEOUT", "30s"), "bound on serving one request, from the end of its headers; must exceed -max-wait (env SUM_WRITE_TIMEOUT)")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", dur("SUM_IDLE_TIMEOUT", "60s"), "how long an idle keep-alive connection stays open (env SUM_IDLE_TIMEOUT)")
	fs.StringVar(&c.AuthTokens, "auth-tokens", env("SUM_AUTH_TOKENS", ""), "file of API clients, one \"NAME SHA256-OF-TOKEN\" a line (make lines with: sumd token NAME); when set, adding and reading need Authorization: Bearer <token>, and keys are scoped per client; reloaded on SIGHUP (env SUM_AUTH_TOKENS)")
	fs.BoolVar(&c.AuthAnonymous, "auth-anonymous", boolean("SUM_AUTH_ANONYMOUS"), "with -auth-tokens, also serve requests without a bearer token, as the anonymous client: the step between no tokens and tokens required when turning tokens on or off one instance at a time (env SUM_AUTH_ANONYMOUS)")
	fs.StringVar(&c.AllowedOrigins, "allowed-origins", env("SUM_ALLOWED_ORIGINS", ""), "comma-separated origins (https://app.example) whose browser pages may add, besides the service's own (env SUM_ALLOWED_ORIGINS)")
	fs.StringVar(&c.LogLevel, "log-level", env("SUM_LOG_LEVEL", "info"), "debug, info (one line per request), warn or error (env SUM_LOG_LEVEL)")
	c.versionFlags(fs, env, errs)
	return fs, errs
}

// validate checks what the flags' types cannot: durations and counts that
// must be positive, and timeouts that must fit together.
func (c config) validate() error {
	if err := server.CheckOrigins(c.origins()); err != nil {
		return fmt.Errorf("-allowed-origins: %w", err)
	}
	if !slices.Contains(redis.Modes, c.RedisMode) {
		return fmt.Errorf("-redis-mode %q: want one of %v", c.RedisMode, redis.Modes)
	}
	positive := map[string]time.Duration{
		"-key-ttl": c.KeyTTL, "-lease-ttl": c.LeaseTTL, "-shutdown-timeout": c.ShutdownTimeout,
		"-purge-interval": c.PurgeInterval, "-read-header-timeout": c.ReadHeaderTimeout,
		"-read-timeout": c.ReadTimeout, "-write-timeout": c.WriteTimeout, "-idle-timeout": c.IdleTimeout,
	}
	for _, name := range slices.Sorted(maps.Keys(positive)) {
		if positive[name] <= 0 {
			return fmt.Errorf("%s must be positive, got %v", name, positive[name])
		}
	}
	counts := map[string]int{
		"-mysql-max-conns": c.MySQLMaxConns, "-batch-max": c.BatchMax,
		"-batch-flushers": c.BatchFlushers, "-purge-batch": c.PurgeBatch,
	}
	for _, name := range slices.Sorted(maps.Keys(counts)) {
		if counts[name] <= 0 {
			return fmt.Errorf("%s must be a positive integer, got %d", name, counts[name])
		}
	}
	for name, d := range map[string]time.Duration{"-batch-wait": c.BatchWait, "-max-wait": c.MaxWait, "-max-clock-skew": c.MaxClockSkew, "-shutdown-delay": c.ShutdownDelay} {
		if d < 0 {
			return fmt.Errorf("%s must not be negative, got %v", name, d)
		}
	}
	if c.WriteTimeout <= c.MaxWait {
		return fmt.Errorf("-write-timeout (%v) must exceed -max-wait (%v): a request waiting on a duplicate would be cut off", c.WriteTimeout, c.MaxWait)
	}
	return nil
}

// redisDefault is SUM_REDIS_URL or the local Redis. An environment
// variable cannot be told apart from an unset one when empty, so MySQL-only
// mode is -redis-url= (empty) or the word "off" in either place.
func redisDefault(getenv func(string) string) string {
	if v := getenv("SUM_REDIS_URL"); v != "" {
		return v
	}
	return "redis://127.0.0.1:6379/0"
}

// redisOptions is what -redis-url, -redis-mode and -redis-prefix ask for.
func (c config) redisOptions() redis.Options {
	return redis.Options{URL: c.RedisURL, Mode: c.RedisMode, Prefix: c.RedisPrefix}
}

// origins is -allowed-origins as a list.
func (c config) origins() []string {
	var out []string
	for o := range strings.SplitSeq(c.AllowedOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	return out
}

// timeouts are the HTTP server's timeouts that the flags set.
func (c config) timeouts() server.Timeouts {
	return server.Timeouts{ReadHeader: c.ReadHeaderTimeout, Read: c.ReadTimeout, Write: c.WriteTimeout, Idle: c.IdleTimeout}
}

// versionFlags defines -migrate and -version.
func (c *config) versionFlags(fs *flag.FlagSet, env func(name, def string) string, errs *[]error) {
	migrate, err := strconv.ParseBool(env("SUM_MIGRATE", "true"))
	if err != nil {
		*errs = append(*errs, fmt.Errorf("SUM_MIGRATE=%q: want true or false", env("SUM_MIGRATE", "true")))
	}
	fs.BoolVar(&c.Migrate, "migrate", migrate, "migrate the schema at start-up; false: only check it, and wait, not ready, until \"sumd migrate\" has run, so that the serving account needs no DDL rights (env SUM_MIGRATE)")
	fs.BoolVar(&c.Version, "version", false, "print the version, VCS revision and Go version, and exit (also: sumd version)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: sumd [flags]     serve (docs/operations.md#configuration)\n"+
			"       sumd migrate      migrate the schema and exit (sumd migrate -h)\n"+
			"       sumd version      print the version and exit\n"+
			"       sumd token NAME   make an API token (sumd token -h)\n\nflags:\n")
		fs.PrintDefaults()
	}
}
