#!/usr/bin/env bash
# Make sure the programs the end-to-end tests drive are installed: nginx (three
# instances behind it), Debian's chromium (the web page test) and redis-sentinel
# (the Sentinel tests; redis-server and redis-cli come with scripts/services.sh),
# and wrk (the load tool of scripts/bench.sh and the scaling figures); for the
# deployment tests (deploy/): podman (scripts/image.sh), promtool (Debian ships it
# in the prometheus package; the tests use only promtool, and on a machine whose
# policy-rc.d lets packages start services, apt also starts a Prometheus server)
# and systemd-analyze (systemd).
# Quiet and untouched when they are present; installs them with apt-get (as root)
# when not.
set -euo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
missing=()
command -v nginx >/dev/null 2>&1 || missing+=(nginx)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v redis-sentinel >/dev/null 2>&1 || missing+=(redis-sentinel)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v podman >/dev/null 2>&1 || missing+=(podman)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "tools.sh: ERROR: ${missing[*]} missing; installing needs root (apt-get install ${missing[*]})" >&2
	exit 1
fi
echo "tools.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
if ! { apt-get -o DPkg::Lock::Timeout=300 -q update && apt-get -o DPkg::Lock::Timeout=300 -q install -y "${missing[@]}"; } >"$log" 2>&1; then
	cat "$log" >&2
	echo "tools.sh: ERROR: apt-get install ${missing[*]} failed" >&2
	exit 1
fi
rm -f "$log"
