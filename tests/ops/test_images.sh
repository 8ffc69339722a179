#!/usr/bin/env bash
# The OCI images (ops/images), built into a scratch layout from this build and checked as a
# registry or a cluster would see them: skopeo inspect (the version label, the user 65532,
# the entrypoint, one layer), then each unpacked by umoci and its program run through runc
# as the image says (non-root, read-only root file system): `--version` answers with the
# build's version, and the worker's shell runs as 65532. Needs root (umoci, runc).
# usage: test_images.sh BUILD_DIR
set -uo pipefail
build=$1
top=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(mktemp -d)
fail() { echo "FAIL: $*"; exit 1; }
trap 'for c in $(runc list -q 2>/dev/null | grep "^floe-img-$$-"); do runc delete -f "$c"; done; rm -rf "$dir"' EXIT

version=$("$build/bin/floe-scheduler" --version | awk '{print $2}')
"$top/ops/images" "$build" "$dir/layout" >"$dir/build.log" 2>&1 || fail "ops/images: $(tail -5 "$dir/build.log")"

# run NAME REF ARGS...: the image's program with ARGS, through runc, as the image
# configures it, from the bundle $dir/NAME
run() {
    local n=$1 ref=$2 b=$dir/$1
    shift 2
    umoci unpack --image "$dir/layout:$ref" "$b" >/dev/null 2>&1 || fail "umoci unpack $ref"
    jq --argjson args "$(printf '%s\n' "$@" | jq -R . | jq -s .)" \
        '.process.args = $args | .process.terminal = false | .root.readonly = true' \
        "$b/config.json" >"$b/config.tmp" && mv "$b/config.tmp" "$b/config.json"
    runc run -b "$b" "floe-img-$$-$n" </dev/null 2>&1
}

for prog in floe-scheduler floe-worker floectl; do
    ref=$prog-$version
    skopeo inspect "oci:$dir/layout:$ref" >"$dir/inspect.json" 2>"$dir/err" || fail "skopeo inspect $ref: $(cat "$dir/err")"
    skopeo inspect --config "oci:$dir/layout:$ref" >"$dir/config.json" 2>"$dir/err" || fail "skopeo inspect --config $ref"
    [ "$(jq -r '.Labels["org.opencontainers.image.version"]' "$dir/inspect.json")" = "$version" ] ||
        fail "$ref: version label $(jq -c .Labels "$dir/inspect.json")"
    [ "$(jq -r '.Labels["org.opencontainers.image.title"]' "$dir/inspect.json")" = "$prog" ] || fail "$ref: title label"
    jq -e '.Labels["dev.floe.debian-packages"] | test("libc6=")' "$dir/inspect.json" >/dev/null ||
        fail "$ref: the Debian packages label does not list libc6"
    [ "$(jq -r .config.User "$dir/config.json")" = 65532:65532 ] || fail "$ref: user $(jq -r .config.User "$dir/config.json")"
    [ "$(jq -r '.config.Entrypoint[0]' "$dir/config.json")" = "/usr/bin/$prog" ] || fail "$ref: entrypoint"
    [ "$(jq '.Layers | length' "$dir/inspect.json")" = 1 ] || fail "$ref: more than one layer"
    out=$(run "$prog" "$ref" "/usr/bin/$prog" --version) || fail "$ref: --version through runc: $out"
    [ "$out" = "$prog $version" ] || fail "$ref: --version said \"$out\""
    jq -e '.process.user.uid == 65532 and .process.user.gid == 65532' "$dir/$prog/config.json" >/dev/null ||
        fail "$ref: the runtime config does not run as 65532"
    echo "ok: $ref ($(jq -r '.Labels["dev.floe.debian-packages"]' "$dir/inspect.json" | tr ',' '\n' | wc -l) packages)"
done
# The worker's shell, for `process` tasks: present and unprivileged.
out=$(run shell "floe-worker-$version" /bin/sh -c 'id -u; echo "$PATH"') || fail "worker shell: $out"
[ "$out" = "65532
/usr/bin:/bin" ] || fail "worker shell said \"$out\""
echo "ok: images"
