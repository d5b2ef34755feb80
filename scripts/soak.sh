#!/usr/bin/env bash
# The soak (not run in CI): three sumd instances under moderate load for
# IDEMSUM_SOAK (default 5m) with a fault every few seconds — SIGKILL and
# restart, SIGSTOP past the lease, Redis FLUSHDB and restart, MySQL
# connections cut and MySQL slowed down — then every invariant is checked
# and one line is logged:
#   SOAK SUMMARY: ... faults ...; requests ...; keys ...; double adds 0; stuck keys 0; 5xx after heal 0; ...
# Usage: scripts/soak.sh [go test flags], e.g. IDEMSUM_SOAK=30s scripts/soak.sh
set -euo pipefail
# the instances this script starts and stops need no drain (-shutdown-delay)
export SUM_SHUTDOWN_DELAY=0
cd "$(dirname "$0")/.."

scripts/services.sh
export IDEMSUM_SOAK="${IDEMSUM_SOAK:-5m}"
IDEMSUM_REQUIRE_SERVICES=1 go test ./e2e -run '^TestSoak$' -count=1 -v -timeout 15m "$@" |
	grep -v '^ *{' # the instances' request logs, shown only when the test fails
