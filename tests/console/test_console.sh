#!/usr/bin/env bash
# The console's browser test against a real scheduler and worker (settings from ops/stack
# env): runs console.test.mjs with Debian's chromium.
# usage: test_console.sh FLOECTL FLOE-SCHEDULER FLOE-WORKER
set -uo pipefail
ctl=$1 sched=$2 worker=$3
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
export FLOE_API_URL=http://127.0.0.1:18786
export FLOE_PROJECT=console-$$-$RANDOM
export NPM_HOME=${NPM_HOME:-$top/.cache/npm}
. "$top/tests/integration/cli_lib.sh"
[ -d "$NPM_HOME/node_modules/playwright-core" ] || fail "playwright-core is not in $NPM_HOME (run ops/setup)"
command -v "${CHROMIUM:-chromium}" >/dev/null || fail "no chromium (run ops/setup)"

pid= wpid=
trap 'kill $pid $wpid 2>/dev/null; wait $pid $wpid 2>/dev/null; rm -rf "$log" "$wlog" "$work"' EXIT
sched_start
FLOE_WORKER_HTTP=127.0.0.1:18799 "$worker" --class default >>"$wlog" 2>&1 &
wpid=$!

# Every module of the console parses (a syntax error would otherwise show only as a page
# that never leaves "Loading…").
for js in "$top"/console/*.js; do
    node --experimental-default-type=module --check "$js" 2>"$work/err" || fail "$js: $(cat "$work/err")"
done
marker=$work/fail-once
touch "$marker"
sed "s#MARKER#$marker#g" "$here/console_flow.yaml" >"$work/flow.yaml"
expect 0 "$ctl" register -f "$work/flow.yaml"
# The feed's door: no token 401, another project's viewer 403, no such execution 404.
url=$FLOE_API_URL/api/v1/feed
code() { curl -s -o "$work/out" -w '%{http_code}' --max-time 10 "$@"; }
[ "$(code "$url?project=$FLOE_PROJECT")" = 401 ] || fail "feed without a token: $(cat "$work/out")"
admin=$(cat "$FLOE_TOKEN_FILE")
other=$("$ctl" token create "feed-$$" --grant "elsewhere-$$=viewer" -q) || fail "token create"
[ "$(code -H "Authorization: Bearer $other" "$url?project=$FLOE_PROJECT")" = 403 ] ||
    fail "feed of a project not granted: $(cat "$work/out")"
[ "$(code -H "Authorization: Bearer $admin" "$url?execution=nosuch")" = 404 ] ||
    fail "feed of no execution: $(cat "$work/out")"
[ "$(code -H "Authorization: Bearer $admin" "$url?execution=bad%2Fid")" = 400 ] ||
    fail "feed of a bad id: $(cat "$work/out")"

CONSOLE_MARKER=$marker CHROMIUM=$(command -v "${CHROMIUM:-chromium}") \
    timeout 300 node "$here/console.test.mjs" || fail "the browser test failed (above)"
# Both exit 0 on SIGTERM: under the sanitizers, nothing of the streams the browser opened
# and dropped (feeds, logs) leaked.
kill $pid $wpid
wait $pid || fail "floe-scheduler exited with $? on SIGTERM"
wait $wpid || fail "floe-worker exited with $? on SIGTERM"
pid= wpid=
echo "ok: console"
