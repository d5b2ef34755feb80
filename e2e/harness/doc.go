// Package harness runs the real sumd binary for end-to-end tests and
// checks what it did, after Tailscale's tstest/integration: an ordinary
// package, so that any test package can import it.
//
// A test package's TestMain calls Main, which builds cmd/sumd once.
// StartCluster then runs several copies of it as separate processes
// (Instance: kill, freeze, terminate, restart, another release) against
// the real MySQL and Redis, with a MySQL database and a Redis key prefix
// of the test's own (internal/testenv), optionally behind fault proxies
// (internal/faultproxy). A Driver sends concurrent duplicates of every
// key, each copy first to another instance, and keeps every attempt in
// Results; StartScenario bundles the two. CheckAll asserts the invariants
// of docs/design.md#invariants over the Results: every key added exactly
// once, byte-identical replays, linearizable totals, the MySQL ledger and
// total, no stored routines, triggers or events, an expiry on every Redis
// key, and no 503 while MySQL is up. After a fault, CheckHealed sends a
// fresh round that must get no 5xx. Every exchange through Do is checked
// against server/openapi.json, and StartCluster's Cleanup fails the test
// for each one the description does not allow and, on the test Redis, for
// each key under its prefix left without an expiry.
//
// Helpers that wait take a deadline and report whether the condition held
// (WaitFor) or fail the test (Await): a fault meant for one phase of a
// test that lands in another on a slow machine must not pass unseen.
//
// # The tests (idemsum/e2e), by file
//
// Load and exactness:
//
//	duplicates_test.go       concurrent duplicates on three instances, group commit
//	burst_test.go            a burst of distinct keys; resident memory stays bounded
//	chaos_test.go            freezes, kill -9 and Redis wipes mixed under one load
//	soak_test.go             a long load with a fault every few seconds (IDEMSUM_SOAK)
//	scaling_test.go,
//	scaling_cpu_test.go      figures: the ledger's ceiling, CPU per addition (IDEMSUM_SCALING)
//
// Instances (processes):
//
//	instance_kill_test.go    SIGKILL, with and without a request stuck in it, and restarts
//	instance_stall_test.go   SIGSTOP past the lease: the others go on
//	instance_restart_test.go SIGTERM drains under load (rolling restart)
//	instance_upgrade_test.go a rolling upgrade from the previous release, built from git
//
// MySQL:
//
//	mysql_outage_test.go     down, connections cut again and again, stalled
//	mysql_commit_test.go     connections cut mid-transaction and between COMMIT and its reply
//	mysql_slow_test.go       round trips slower than the lease
//	migrate_upgrade_test.go  sumd migrate apart during a rolling upgrade; sumd version of a build
//	mysql_failover_test.go   the primary's host dies; the (semi-)synchronous replica is promoted
//	mysql_switchover_test.go a planned switchover through read_only
//
// Redis:
//
//	redis_down_test.go       unreachable or off: MySQL-only, and fast
//	redis_trouble_test.go    restarted empty, stalled, connections cut
//	redis_flush_test.go      FLUSHDB again and again mid-run
//	redis_tamper_test.go     hostile content at sumd's keys
//	redis_claims_test.go     claims (-redis-claims): in flight, reused keys, expiry, stalled holders
//	redis_shared_test.go     two deployments on one Redis
//	redis_cluster_test.go    Redis Cluster, a master killed under load
//	redis_sentinel_test.go   Sentinel, two failovers under load
//
// The HTTP edge, access and the client:
//
//	http_input_test.go       hostile and extreme input changes nothing
//	http_conn_test.go        hostile connections: huge headers, slow clients, readers that never read
//	auth_tokens_test.go      API tokens required, reloaded under load
//	auth_scopes_test.go      clients with the same keys are apart
//	auth_rollout_test.go     turning tokens on keeps each key's scope
//	auth_origin_test.go      cross-origin writes refused
//	client_faults_test.go    the Go client hides kills and Redis flushes
//	nginx_test.go            deploy/nginx.conf in front of three instances
//	nginx_kill_test.go       nginx never re-sends an addition when an instance dies
//
// Expiry:
//
//	expiry_test.go           a key's answer agrees everywhere within and across its lifetimes
//	expiry_retention_test.go -key-ttl: records and rows go, the total stays
//
// Run one file's tests with, for example,
//
//	go test -race -count=1 -run 'TestRedisTamper' ./e2e/
package harness
