#!/usr/bin/env bash
# Runs the service (cmd/sumd) against the local MariaDB and Redis, bringing them up
# first if needed. Arguments go to sumd, e.g. ./scripts/run.sh -http-addr 127.0.0.1:8081
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/services.sh
exec go run ./cmd/sumd "$@"
