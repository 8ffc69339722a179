# Sourced by the floectl-driven integration tests (test_constructs.sh, test_children.sh):
# a scratch directory and logs, and the checks. Each command's output lands in
# $work/out and $work/err.
log=$(mktemp) wlog=$(mktemp) work=$(mktemp -d)
fail() {
    echo "FAIL: $*"
    echo "--- scheduler log"; tail -n 60 "$log"
    echo "--- worker log"; tail -n 40 "$wlog"
    exit 1
}
expect() { # expect CODE CMD...: runs CMD, checks its exit code
    local want=$1; shift
    "$@" >"$work/out" 2>"$work/err"
    local got=$?
    [ "$got" = "$want" ] || fail "$* exited $got, want $want: $(cat "$work/err") $(head -c 2000 "$work/out")"
}
# json FILTER: jq on the last command's output, which must say "true"
json() { [ "$(jq -r "$1" "$work/out")" = true ] || fail "$1 on: $(head -c 3000 "$work/out")"; }
# sched_start [VAR=VALUE...]: $sched with these settings, its pid in $pid; fails unless its
# API answers within 30 s.
sched_start() {
    env "$@" "$sched" >>"$log" 2>&1 &
    pid=$!
    for _ in $(seq 1 300); do
        "$ctl" list tasks >/dev/null 2>&1 && return
        kill -0 $pid 2>/dev/null || fail "floe-scheduler exited"
        sleep 0.1
    done
    fail "the API did not answer within 30 s"
}
