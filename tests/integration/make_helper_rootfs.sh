#!/usr/bin/env bash
# make_helper_rootfs.sh DIR — a root filesystem standing in for kubernetes.helper_image in
# the stand-in API server's runc mode: the busybox rootfs ops/setup builds (sh,
# sha256sum) plus this host's curl and the shared libraries it needs.
set -euo pipefail
dir=$1
src=${FLOE_OCI_ROOTFS_DIR:-/var/lib/floe/rootfs}/busybox
[ -x "$src/bin/sh" ] || { echo "no busybox rootfs at $src (ops/setup builds it)" >&2; exit 1; }
curl_bin=$(command -v curl)
mkdir -p "$dir"
cp -a "$src/." "$dir/"
mkdir -p "$dir/usr/bin"
cp "$curl_bin" "$dir/usr/bin/curl"
# Every library curl loads (and the loader), at the same paths.
for lib in $(ldd "$curl_bin" | grep -o '/[^ ]*'); do
    mkdir -p "$dir$(dirname "$lib")"
    cp -L "$lib" "$dir$lib"
done
