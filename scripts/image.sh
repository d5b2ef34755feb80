#!/usr/bin/env bash
# Build the sumd container image HERE, with Debian's podman and no registry:
# the final stage of ./Containerfile (ROOTFS=prebuilt) over a root filesystem
# laid out from a binary built on this host (docs/operations.md#container-image).
#
#   scripts/image.sh [TAG]    build it (default tag localhost/sumd:latest), print its ID and size
#   scripts/image.sh rootfs DIR SUMD CA_BUNDLE
#                             lay out the image's root filesystem in DIR; the
#                             Containerfile's build stage runs this too
#
# SUMD_BINARY=path uses a static sumd built already (CGO_ENABLED=0) instead of
# building one. Needs podman (scripts/tools.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."

# rootfs DIR SUMD CA_BUNDLE: the whole image, and nothing else.
rootfs() {
	local dir=$1 bin=$2 ca=$3
	if file_is_dynamic "$bin"; then
		echo "image.sh: $bin is dynamically linked; build it with CGO_ENABLED=0" >&2
		exit 1
	fi
	mkdir -p "$dir/etc/ssl/certs"
	install -m 0755 "$bin" "$dir/sumd"
	install -m 0644 "$ca" "$dir/etc/ssl/certs/ca-certificates.crt"
}

# file_is_dynamic BIN: true when BIN asks for a dynamic loader (an ELF
# PT_INTERP header), which a FROM scratch image does not have.
file_is_dynamic() {
	LC_ALL=C grep -q -a -F '/ld-linux' "$1"
}

if [ "${1:-}" = rootfs ]; then
	[ $# -eq 4 ] || { echo "usage: scripts/image.sh rootfs DIR SUMD CA_BUNDLE" >&2; exit 2; }
	rootfs "$2" "$3" "$4"
	exit 0
fi

tag=${1:-localhost/sumd:latest}
command -v podman >/dev/null 2>&1 || { echo "image.sh: podman is missing (scripts/tools.sh installs it)" >&2; exit 1; }
ca=/etc/ssl/certs/ca-certificates.crt
[ -r "$ca" ] || { echo "image.sh: $ca is missing (apt-get install ca-certificates)" >&2; exit 1; }

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
bin=${SUMD_BINARY:-}
if [ -z "$bin" ]; then
	bin=$ctx/sumd
	# the revision, for a build without VCS information (GOFLAGS=-buildvcs=false, a worktree)
	rev=$(git rev-parse HEAD 2>/dev/null || true)
	if [ -n "$rev" ] && ! git diff --quiet HEAD 2>/dev/null; then rev=$rev+modified; fi
	CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X github.com/idemsum/idemsum/internal/buildinfo.revision=$rev" -o "$bin" ./cmd/sumd
fi
rootfs "$ctx/rootfs" "$bin" "$ca"
podman build --quiet --pull=never --build-arg ROOTFS=prebuilt -f Containerfile -t "$tag" "$ctx" >/dev/null
size=$(podman image inspect --format '{{.Size}}' "$tag")
echo "image.sh: built $tag ($(podman image inspect --format '{{.Id}}' "$tag" | cut -c1-12)), $((size / 1024 / 1024)) MiB ($size bytes)"
