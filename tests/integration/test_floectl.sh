#!/usr/bin/env bash
# floectl against a real floe-scheduler: --help for every verb, register, get, list,
# launch (typed inputs, a blob from a local file), blob put, get execution, and the exit
# codes 0 / 1 / 2.
# usage: test_floectl.sh FLOECTL FLOE-SCHEDULER SOURCE-DIR   (settings from ops/stack env)
set -uo pipefail
ctl=$1 sched=$2 src=$3
export FLOE_API_URL=http://127.0.0.1:18782
export FLOE_PROJECT=ctl-$$-$RANDOM
log=$(mktemp)
fail() { echo "FAIL: $*"; echo "--- scheduler log"; cat "$log"; exit 1; }
expect() { # expect CODE CMD...: runs CMD, checks its exit code
    local want=$1; shift
    "$@" >/tmp/floectl.out 2>/tmp/floectl.err
    local got=$?
    [ "$got" = "$want" ] || fail "$* exited $got, want $want: $(cat /tmp/floectl.err)"
}

for verb in register launch get list activate deactivate publish smoke blob; do
    "$ctl" "$verb" --help | grep -q "usage: floectl $verb" || fail "floectl $verb --help"
done
expect 2 "$ctl" frobnicate
expect 2 "$ctl" register

"$sched" >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 1 300); do # up to 30 s for the API to answer
    "$ctl" list tasks >/dev/null 2>&1 && break
    kill -0 $pid 2>/dev/null || fail "floe-scheduler exited"
    sleep 0.1
done
expect 0 "$ctl" list tasks

expect 0 "$ctl" register -f "$src/examples/wordcount.yaml" -o json
grep -q '"status": "created"' /tmp/floectl.out || fail "register did not create"
expect 0 "$ctl" register -f "$src/examples" -o json
grep -q '"status": "unchanged"' /tmp/floectl.out || fail "registering again changed something"
expect 0 "$ctl" get workflow wordcount -o yaml
grep -q '^name: wordcount$' /tmp/floectl.out || fail "get workflow -o yaml"
expect 0 "$ctl" list workflows -o table
grep -q '^KIND' /tmp/floectl.out || fail "list -o table has no header"

expect 0 "$ctl" launch wordcount --input "text=one two three" -o json
id=$(sed -n 's/^  "id": "\(.*\)",$/\1/p' /tmp/floectl.out)
[ -n "$id" ] || fail "launch printed no id"
expect 0 "$ctl" get execution "$id" -o json
grep -Eq '"phase": "(QUEUED|RUNNING)"' /tmp/floectl.out || fail "execution neither QUEUED nor RUNNING (no worker runs it here)"
grep -q '"text": "one two three"' /tmp/floectl.out || fail "input not recorded"

printf 'text: from a file\n' >/tmp/floectl.inputs.yaml
expect 0 "$ctl" launch launchplan/wordcount_nightly --inputs-file /tmp/floectl.inputs.yaml -o json
grep -q '"text": "from a file"' /tmp/floectl.out || fail "--inputs-file"

expect 2 "$ctl" launch wordcount --input nope=1            # unknown input: bad usage
grep -q 'no such input' /tmp/floectl.err || fail "unknown input message"
expect 2 "$ctl" launch wordcount --input text              # not NAME=VALUE
expect 1 "$ctl" launch no_such_workflow                    # the call fails
grep -q 'not found' /tmp/floectl.err || fail "not found message"
expect 1 "$ctl" get execution 01ZZZZZZZZZZZZZZZZZZZZZZZZ
expect 0 "$ctl" activate launchplan wordcount_nightly@1
expect 1 "$ctl" activate launchplan wordcount_nightly@9

# Blobs: put stores the file under its content address (the bytes, once); a launch with
# --input NAME=@FILE stores it and passes its uri; a missing file is bad usage.
blob=$(mktemp)
head -c 3000 /dev/urandom >"$blob"
hex=$(sha256sum "$blob" | cut -d' ' -f1)
expect 0 "$ctl" blob put "$blob" -o json
grep -q "\"uri\": \"floe://blobs/sha256/$hex\"" /tmp/floectl.out || fail "blob put uri: $(cat /tmp/floectl.out)"
grep -q '"size": 3000' /tmp/floectl.out || fail "blob put size"
cmp -s "$blob" "$FLOE_BLOB_ROOT/sha256/${hex:0:2}/$hex" || fail "stored blob differs from the file"
expect 0 "$ctl" blob put "$blob" "$blob" -o json # twice: the same uri, nothing rewritten
[ "$(grep -c "floe://blobs/sha256/$hex" /tmp/floectl.out)" = 2 ] || fail "blob put twice"
expect 2 "$ctl" blob put /nonexistent/file
grep -q 'cannot store /nonexistent/file' /tmp/floectl.err || fail "missing file message: $(cat /tmp/floectl.err)"
cat >/tmp/floectl.blobwf.yaml <<'YAML'
kind: task
name: count_bytes
version: "1"
container: {command: [/bin/sh, -c, 'wc -c < "$FLOE_INPUTS/data" > "$FLOE_OUTPUTS/n"']}
inputs: {data: blob}
outputs: {n: integer}
---
kind: workflow
name: count_bytes
version: "1"
inputs: {data: blob}
outputs: {n: {from: {node: c, output: n}}}
nodes:
  - {id: c, task: count_bytes, inputs: {data: {input: data}}}
YAML
expect 0 "$ctl" register -f /tmp/floectl.blobwf.yaml
expect 0 "$ctl" launch count_bytes --input "data=@$blob" -o json
grep -q "\"uri\": \"floe://blobs/sha256/$hex\"" /tmp/floectl.out || fail "launch @file: $(cat /tmp/floectl.out)"
expect 2 "$ctl" launch count_bytes --input "data=@/nonexistent/file"
rm -f "$blob"

kill -TERM $pid
wait $pid || fail "floe-scheduler exited with $? on SIGTERM"
trap 'rm -f "$log"' EXIT
echo "floectl: all checks passed"
