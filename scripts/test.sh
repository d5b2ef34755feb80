#!/usr/bin/env bash
# THE test command: brings up MariaDB and Redis if needed, installs nginx and
# chromium for the end-to-end tests if missing, then runs every test,
# including those against the real services (IDEMSUM_REQUIRE_SERVICES=1 makes a
# missing service a failure instead of a skip). Extra arguments go to `go test`,
# e.g. ./scripts/test.sh -run TestGuard -v
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/services.sh
scripts/tools.sh
IDEMSUM_REQUIRE_SERVICES=1 go test -race -count=1 -timeout 20m ./... "$@"
# deploy/ is a module of its own (the image, manifests, unit and alerts tests)
cd deploy && IDEMSUM_REQUIRE_SERVICES=1 exec go test -count=1 -timeout 10m ./... "$@"
