#!/usr/bin/env bash
# `cmake --install` puts the programs, the client library, the units, the docs, the
# manual pages, the shell completions and the license where it says, and the installed
# programs run. The systemd units
# (ops/systemd/*.service.in), as `cmake --install` writes them, pass
# `systemd-analyze verify` with no complaint about them; and both daemons speak systemd's
# notify protocol: READY=1 once they serve, WATCHDOG=1 every half of WATCHDOG_USEC,
# STOPPING=1 on SIGTERM, then exit 0 (tests/ops/notify_listen.py plays systemd).
# Usage: test_systemd.sh SOURCE_DIR BUILD_DIR   (the daemons need the local stack)
set -euo pipefail
src=$1
build=$2
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v systemd-analyze >/dev/null || fail "systemd-analyze missing (ops/setup installs systemd)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for f in "$src"/ops/systemd/*.service.in; do
    sed "s|@BINDIR@|$build/bin|; s|@DOCDIR@|$src/docs|" "$f" >"$tmp/$(basename "${f%.in}")"
done
cp "$tmp/floe-worker@.service" "$tmp/floe-worker@default.service"
for u in floe-scheduler.service floe-worker@default.service; do
    out=$(cd "$tmp" && systemd-analyze verify --man=no "$tmp/$u" 2>&1) || fail "verify $u: $out"
    if grep -F -e "${u%%@*}" -e "$tmp" <<<"$out" | grep -v '^$' >/dev/null; then
        fail "verify $u complained: $out"
    fi
    echo "ok   systemd-analyze verify $u"
done
# Install into a scratch prefix.
cmake --install "$build" --prefix "$tmp/inst" >/dev/null || fail "cmake --install"
for f in bin/floe-scheduler bin/floe-worker bin/floectl bin/floe-image-rootfs \
    include/floe/floe_client.h lib/libfloe_client.a lib/pkgconfig/floe-client.pc \
    lib/systemd/system/floe-scheduler.service lib/systemd/system/floe-worker@.service \
    share/doc/floe/LICENSE share/doc/floe/README.md share/doc/floe/api.md; do
    [ -e "$tmp/inst/$f" ] || fail "cmake --install did not install $f"
done
for p in floe-scheduler floe-worker floectl; do
    "$tmp/inst/bin/$p" --version >/dev/null || fail "installed $p --version"
done
grep -q "^ExecStart=/.*/floe-scheduler$" "$tmp/inst/lib/systemd/system/floe-scheduler.service" ||
    fail "the installed unit does not name the installed program"
# Manual pages and completions (issue 21), made from the programs' help texts: they render
# without a warning, say what --help says, and bash completes verbs and a verb's flags.
for m in man1/floectl.1 man8/floe-scheduler.8 man8/floe-worker.8; do
    page=$tmp/inst/share/man/$m
    [ -s "$page" ] || fail "cmake --install did not install $m"
    groff -man -Tutf8 -ww -z "$page" 2>"$tmp/groff" && [ ! -s "$tmp/groff" ] ||
        fail "$m does not render cleanly: $(head -3 "$tmp/groff")"
done
# (rendered to files first: grep -q leaving a pipe early fails the pipeline under pipefail)
groff -man -Tascii "$tmp/inst/share/man/man1/floectl.1" 2>/dev/null | col -b >"$tmp/floectl.txt"
grep -q 'floectl admin init \[--check\]' "$tmp/floectl.txt" || fail "floectl.1 lacks admin's usage"
groff -man -Tascii "$tmp/inst/share/man/man8/floe-worker.8" 2>/dev/null | col -b >"$tmp/worker.txt"
grep -q 'FLOE_WORKER_CONCURRENCY' "$tmp/worker.txt" || fail "floe-worker.8 lacks the settings"
comp=$tmp/inst/share/bash-completion/completions/floectl
[ -s "$tmp/inst/share/zsh/site-functions/_floectl" ] || fail "no zsh completion installed"
got=$(bash -c 'source "$1"; COMP_WORDS=(floectl wat); COMP_CWORD=1; _floectl; echo "${COMPREPLY[*]}"' _ "$comp")
[ "$got" = "watch" ] || fail "completing \"wat\": \"$got\""
got=$(bash -c 'source "$1"; COMP_WORDS=(floectl admin init --dry); COMP_CWORD=3; _floectl; echo "${COMPREPLY[*]}"' _ "$comp")
[ "$got" = "--dry-run" ] || fail "completing admin's \"--dry\": \"$got\""
got=$(bash -c 'source "$1"; COMP_WORDS=(floectl config use); COMP_CWORD=2; _floectl; echo "${COMPREPLY[*]}"' _ "$comp")
[ "$got" = "use-context" ] || fail "completing config's \"use\": \"$got\""
echo "ok   cmake --install"
# The notify protocol, against the stack.
eval "$("$src/ops/stack" env)"
export FLOE_LOG_LEVEL=warn FLOE_API_URL=http://127.0.0.1:18799 FLOE_WORKER_HTTP=127.0.0.1:18798
export FLOE_WORKER_DIR="$tmp/work"
for daemon in "floe-scheduler" "floe-worker --class default"; do
    python3 "$src/tests/ops/notify_listen.py" "$tmp/notify.sock" 400000 -- \
        $build/bin/$daemon || fail "$daemon: notify protocol"
    echo "ok   $daemon: READY=1, WATCHDOG=1 pings, STOPPING=1, exit 0"
done
