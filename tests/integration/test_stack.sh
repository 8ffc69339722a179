#!/usr/bin/env bash
# Integration: ops/stack's verbs. Runs last (it restarts the stack): `up` again is
# harmless, `status` reports, `down` leaves no process or port of ours, `up` brings it back.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
stack=$top/ops/stack
fail() { echo "FAIL: $*" >&2; exit 1; }

out=$("$stack" up) || fail "second ops/stack up failed"
grep -q "kafka already running" <<<"$out" || fail "up twice restarted kafka: $out"
"$stack" status >/dev/null || fail "status after up is not all up"
eval "$("$stack" env)"
[ -n "${FLOE_KAFKA_BROKERS:-}" ] && [ -n "${FLOE_POSTGRES_URL:-}" ] || fail "env exports no FLOE_ settings"
state=$FLOE_STATE_DIR
pids=$(cat "$state"/run/*.pid)
ports=$(env | grep '^FLOE_' | grep -oE '127\.0\.0\.1:[0-9]+' | cut -d: -f2 | sort -u)

"$stack" down >/dev/null || fail "down failed"
for pid in $pids; do
    st=$(ps -o stat= -p "$pid" 2>/dev/null || true)
    [ -n "$st" ] && [ "${st:0:1}" != Z ] && fail "pid $pid still alive after down ($st)"
done
for port in $ports; do
    ss -ltnH "sport = :$port" | grep -q . && fail "port $port still listening after down"
done
if "$stack" status >/dev/null; then fail "status says up after down"; fi

"$stack" up >/dev/null || fail "up after down failed"
"$stack" status >/dev/null || fail "status after the second up"
echo "1 passed, 0 failed"
