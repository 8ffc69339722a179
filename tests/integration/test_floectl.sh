#!/usr/bin/env bash
# floectl against a real floe-scheduler: --help for every verb, register, get, list,
# launch (typed inputs, a blob from a local file), blob put, get execution, and the exit
# codes 0 / 1 / 2 / 3 / 4.
# With a worker at the end: launch --wait, get nodes, logs.
# usage: test_floectl.sh FLOECTL FLOE-SCHEDULER SOURCE-DIR FLOE-WORKER   (settings from
# ops/stack env)
set -uo pipefail
ctl=$1 sched=$2 src=$3 worker=$4
export FLOE_API_URL=http://127.0.0.1:18782
export FLOE_PROJECT=ctl-$$-$RANDOM
log=$(mktemp)
fail() { echo "FAIL: $*"; echo "--- scheduler log"; cat "$log"; exit 1; }
# isolated CMD...: runs CMD where the stack's directories (blobs, logs, data) are hidden
# under an empty tmpfs, as on a laptop: what floectl does there goes through the API only.
if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
    # The token travels as a laptop's would, in FLOE_TOKEN: its file is hidden too.
    isolated() {
        FLOE_TOKEN=$(cat "$FLOE_TOKEN_FILE") unshare -m bash -c \
            'mount -t tmpfs floe-hidden "$FLOE_STATE_DIR" && exec "$@"' _ "$@"
    }
else
    echo "# not root: the no-disk-access checks run with the disk visible"
    isolated() { "$@"; }
fi
expect() { # expect CODE CMD...: runs CMD, checks its exit code
    local want=$1; shift
    "$@" >/tmp/floectl.out 2>/tmp/floectl.err
    local got=$?
    [ "$got" = "$want" ] || fail "$* exited $got, want $want: $(cat /tmp/floectl.err)"
}

for verb in register validate launch wait get list activate deactivate publish dataset smoke blob logs version admin config watch; do
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
! grep -q 'no project given' /tmp/floectl.err || fail "warned with FLOE_PROJECT set"
# Which builds talk (issue 21): floectl's and the scheduler's version.
expect 0 "$ctl" version -o json
grep -q '"program": "floe-scheduler"' /tmp/floectl.out || fail "version: no server: $(cat /tmp/floectl.out)"
grep -q '"program": "floectl"' /tmp/floectl.out || fail "version: no client"
# Contexts (issue 21): named url, token and project. --context (or FLOE_CONTEXT) wins over
# the environment's settings; the current context fills in what the environment lacks.
ctxs=$(mktemp -d)
export FLOE_CONTEXTS=$ctxs/contexts
noenv=(env -u FLOE_API_URL -u FLOE_TOKEN_FILE -u FLOE_TOKEN -u FLOE_PROJECT)
expect 0 "$ctl" config set-context stack --url "$FLOE_API_URL" --token-file "$FLOE_TOKEN_FILE" \
    --project="ctx-$FLOE_PROJECT" --domain production
expect 0 "$ctl" config set-context nowhere --url http://127.0.0.1:1
[ "$(stat -c %a "$FLOE_CONTEXTS")" = 600 ] || fail "the contexts file is not private"
expect 0 "$ctl" config current-context
[ "$(cat /tmp/floectl.out)" = stack ] || fail "the first context is not current: $(cat /tmp/floectl.out)"
expect 0 "${noenv[@]}" "$ctl" whoami # url and token from the current context
expect 0 "${noenv[@]}" "$ctl" --print-config
grep -qx "project = ctx-$FLOE_PROJECT" /tmp/floectl.out || fail "the context's project: $(grep ^project /tmp/floectl.out)"
expect 0 "${noenv[@]}" "$ctl" list tasks
! grep -q 'no project given' /tmp/floectl.err || fail "warned with a context's project"
expect 1 "$ctl" whoami --context nowhere # chosen: over FLOE_API_URL
expect 1 env FLOE_CONTEXT=nowhere "$ctl" whoami
expect 0 "$ctl" config use-context nowhere
expect 0 "$ctl" whoami                 # current: FLOE_API_URL still wins
expect 1 "${noenv[@]}" "$ctl" whoami   # ... and without it, the current context's url
expect 2 "$ctl" whoami --context missing
grep -q 'no context "missing"' /tmp/floectl.err || fail "an unknown context: $(cat /tmp/floectl.err)"
expect 0 "$ctl" config get-contexts -o json
[ "$(jq -r '[.items[].name] | join(",")' /tmp/floectl.out)" = stack,nowhere ] || fail "get-contexts: $(cat /tmp/floectl.out)"
expect 0 "$ctl" config set-context secret --token floe_not_shown
expect 0 "$ctl" config get-contexts -o json
! grep -q floe_not_shown /tmp/floectl.out || fail "get-contexts showed a token"
chmod 644 "$FLOE_CONTEXTS"
expect 2 "$ctl" whoami
grep -q 'holds a token and others may read it' /tmp/floectl.err || fail "an open file with a token: $(cat /tmp/floectl.err)"
unset FLOE_CONTEXTS
rm -rf "$ctxs"

# --flag=value as well as --flag value, for every verb's flags.
expect 0 "$ctl" list executions --limit=1 --project="$FLOE_PROJECT" -o json
expect 1 "$ctl" list executions --limit=0

# Forgetting -p is said (issue 26), not silently "default".
expect 0 env -u FLOE_PROJECT "$ctl" list tasks
grep -q 'no project given (-p, FLOE_PROJECT or the config file): using "default"' /tmp/floectl.err || fail "no warning without a project: $(cat /tmp/floectl.err)"
expect 0 env -u FLOE_PROJECT "$ctl" list tasks -p other
! grep -q 'no project given' /tmp/floectl.err || fail "warned despite -p"

# No version anywhere (issue 26): the content names it; registering again changes nothing,
# an edit is a new version, and launch takes the latest.
printf 'kind: task\nname: vless\ncontainer: {command: [/bin/true]}\n' >/tmp/floectl.vless.yaml
expect 0 "$ctl" register -f /tmp/floectl.vless.yaml -o json
v1=$(sed -n 's/^ *"version": "\(c[0-9a-f]*\)",$/\1/p' /tmp/floectl.out)
[[ "$v1" =~ ^c[0-9a-f]{12}$ ]] || fail "no content version: $(cat /tmp/floectl.out)"
expect 0 "$ctl" register -f /tmp/floectl.vless.yaml -o json
grep -q '"status": "unchanged"' /tmp/floectl.out || fail "same content registered as new: $(cat /tmp/floectl.out)"
printf 'kind: task\nname: vless\ncontainer: {command: [/bin/false]}\n' >/tmp/floectl.vless.yaml
expect 0 "$ctl" register -f /tmp/floectl.vless.yaml -o json
grep -q '"status": "created"' /tmp/floectl.out || fail "an edit was not a new version: $(cat /tmp/floectl.out)"
grep -q "\"version\": \"$v1\"" /tmp/floectl.out && fail "an edit kept version $v1"
# validate (issue 26): the checks of register, nothing stored.
expect 0 "$ctl" validate -f "$src/examples/wordcount.yaml" -o json
grep -q '"status": "new"' /tmp/floectl.out || fail "validate: $(cat /tmp/floectl.out)"
expect 1 "$ctl" get workflow wordcount
printf 'kind: task\nname: broken\nversion: "1"\ncontainer: {command: [/bin/true]}\noutputs: {x: nosuchtype}\n' >/tmp/floectl.bad.yaml
mkdir -p /tmp/floectl.vdir && cp /tmp/floectl.bad.yaml /tmp/floectl.vdir/a.yaml && cp "$src/examples/wordcount.yaml" /tmp/floectl.vdir/b.yaml && cp /tmp/floectl.bad.yaml /tmp/floectl.vdir/c.yaml
# Every document's error in one file, not only the first (issue 26).
{ cat /tmp/floectl.bad.yaml; printf -- '---\nkind: task\nname: broken2\nversion: "1"\ncontainer: {command: [/bin/true]}\ntimeout: soon\n'; } >/tmp/floectl.bad2.yaml
expect 1 "$ctl" validate -f /tmp/floectl.bad2.yaml
grep -q 'nosuchtype.*(1 more in details)' /tmp/floectl.err || fail "first error and count: $(cat /tmp/floectl.err)"
grep -q 'broken2' /tmp/floectl.err || fail "the second document's error: $(cat /tmp/floectl.err)"
# ...and every error within one document: a task's sections, a workflow's nodes.
printf 'kind: task\nname: twice\nversion: "1"\ncontainer: {command: [/bin/true]}\noutputs: {x: nosuchtype}\ntimeout: soon\n---\nkind: workflow\nname: wtwice\nversion: "1"\nnodes:\n  - {id: a, task: nosuchtask}\n  - {id: b, task: nosuchtask2}\n' >/tmp/floectl.bad3.yaml
expect 1 "$ctl" validate -f /tmp/floectl.bad3.yaml
for want in 'nosuchtype.*(3 more in details)' ':6: task "twice": timeout' 'node "a": unknown task "nosuchtask"' 'node "b": unknown task "nosuchtask2"'; do
    grep -q "$want" /tmp/floectl.err || fail "validate: no \"$want\" in: $(cat /tmp/floectl.err)"
done
expect 1 "$ctl" validate -f /tmp/floectl.vdir
[ "$(grep -c 'nosuchtype' /tmp/floectl.err)" = 2 ] || fail "validate DIR did not report both bad files: $(cat /tmp/floectl.err)"
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
# relaunch with a changed input (issue 26), typed as launch types it; the rest stays.
rid=$("$ctl" relaunch "$id" --input "text=four five" -q) || fail "relaunch --input failed"
expect 0 "$ctl" get execution "$rid" -o json
grep -q '"text": "four five"' /tmp/floectl.out || fail "relaunch --input not applied: $(cat /tmp/floectl.out)"
grep -q "\"source_execution\": \"$id\"" /tmp/floectl.out || fail "relaunch lost its source"
expect 2 "$ctl" relaunch "$id" --input "nosuch=1"
expect 2 "$ctl" recover "$id" --input "text=x"
# For scripts (issue 26): -q / -o name print ids and KIND/NAME@VERSION, nothing else.
qid=$("$ctl" launch wordcount --input "text=quiet" -q) || fail "launch -q failed"
[[ "$qid" =~ ^[0-9A-Z]{26}$ ]] || fail "launch -q printed \"$qid\", not an execution id"
expect 0 "$ctl" get execution "$qid" -o name
[ "$(cat /tmp/floectl.out)" = "$qid" ] || fail "get execution -o name: $(cat /tmp/floectl.out)"
expect 0 "$ctl" list tasks -o name
grep -qx 'task/count@1' /tmp/floectl.out || fail "list tasks -o name: $(cat /tmp/floectl.out)"
! grep -qv '^task/[a-z_0-9]*@[^ ]*$' /tmp/floectl.out || fail "list tasks -o name printed other lines"
expect 0 "$ctl" register -f "$src/examples/wordcount.yaml" -o name
grep -qx 'workflow/wordcount@1' /tmp/floectl.out || fail "register -o name: $(cat /tmp/floectl.out)"
expect 2 "$ctl" list tasks -o nonsense
expect 0 "$ctl" get execution "$qid" -o 'jsonpath={.id} {.inputs.text}'
[ "$(cat /tmp/floectl.out)" = "$qid quiet" ] || fail "jsonpath: $(cat /tmp/floectl.out)"
expect 0 "$ctl" list tasks -o 'jsonpath={.items[*].name}'
grep -qw count /tmp/floectl.out || fail "jsonpath [*]: $(cat /tmp/floectl.out)"
expect 0 "$ctl" list tasks -o 'jsonpath={.items[0].kind}'
[ "$(cat /tmp/floectl.out)" = task ] || fail "jsonpath [0]: $(cat /tmp/floectl.out)"
# get launchplan -o table (issue 26): the plan's NAME once, its WORKFLOW, and the last
# firings as rows (they were one row of "-"). A rate of 1 s fires while we watch.
cat >/tmp/floectl.tick.yaml <<'EOF'
kind: launchplan
name: tick
version: "1"
workflow: wordcount@1
default_inputs: {text: "tick tock"}
schedule: {rate: 1s}
EOF
expect 0 "$ctl" register -f /tmp/floectl.tick.yaml
expect 0 "$ctl" activate launchplan tick@1
for _ in $(seq 1 100); do # up to 10 s for a firing to be recorded
    "$ctl" get launchplan tick -o table >/tmp/floectl.out 2>/tmp/floectl.err
    grep -q '^last firings:' /tmp/floectl.out && break
    sleep 0.1
done
head -1 /tmp/floectl.out | grep -q '^NAME .*WORKFLOW' || fail "get launchplan header: $(head -1 /tmp/floectl.out)"
[ "$(head -1 /tmp/floectl.out | grep -o 'NAME' | wc -l)" = 1 ] || fail "NAME twice: $(head -1 /tmp/floectl.out)"
sed -n '/^last firings:/,/^$/p' /tmp/floectl.out | grep -Eq '^[^ ]+ +schedule +[A-Z]+ +20[0-9]{2}-' || fail "firings rows: $(cat /tmp/floectl.out)"
expect 0 "$ctl" deactivate launchplan tick -o json
grep -q '"version": "1"' /tmp/floectl.out || fail "deactivate without a version: $(cat /tmp/floectl.out)"
expect 0 "$ctl" activate launchplan tick -o json
grep -q '"active": true' /tmp/floectl.out || fail "activate without a version: $(cat /tmp/floectl.out)"
expect 0 "$ctl" deactivate launchplan tick
expect 1 "$ctl" deactivate launchplan tick
expect 2 "$ctl" wait
expect 3 "$ctl" wait "$qid" --timeout 1s
# No worker yet: --wait gives up with its own exit code and names the phase it saw (it
# printed freed memory there once).
expect 3 "$ctl" launch wordcount --input "text=x" --wait --wait-timeout 1s
grep -Eq '\(still (QUEUED|RUNNING)\)$' /tmp/floectl.err || fail "--wait-timeout message: $(cat /tmp/floectl.err)"

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
expect 0 isolated "$ctl" blob put "$blob" -o json
grep -q "\"uri\": \"floe://blobs/sha256/$hex\"" /tmp/floectl.out || fail "blob put uri: $(cat /tmp/floectl.out)"
grep -q '"size": 3000' /tmp/floectl.out || fail "blob put size"
isolated "$ctl" blob get "floe://blobs/sha256/$hex" | cmp -s - "$blob" || fail "stored blob differs from the file"
rm -f /tmp/floectl.blob.copy
expect 0 isolated "$ctl" blob get "floe://blobs/sha256/$hex" /tmp/floectl.blob.copy
cmp -s /tmp/floectl.blob.copy "$blob" || fail "blob get FILE differs from the file"
expect 1 "$ctl" blob get "floe://blobs/sha256/$hex" /tmp/floectl.blob.copy # exists: not overwritten
expect 2 "$ctl" blob get "floe://blobs/sha256/../../etc/passwd"
rm -f /tmp/floectl.blob.copy
expect 0 "$ctl" blob put "$blob" "$blob" -o json # twice: the same uri, nothing rewritten
[ "$(grep -c "floe://blobs/sha256/$hex" /tmp/floectl.out)" = 2 ] || fail "blob put twice"
expect 2 "$ctl" blob put /nonexistent/file
grep -q 'cannot store /nonexistent/file' /tmp/floectl.err || fail "missing file message: $(cat /tmp/floectl.err)"
buri=$("$ctl" blob put "$blob" -q) || fail "blob put -q"
# The blob routes themselves (issue 20): one range, an unsatisfiable one, a body that is
# not its digest (nothing stored), a name that climbs.
api=$FLOE_API_URL/api/v1/blobs
token=$(cat "$FLOE_TOKEN_FILE")
[ "$(curl --oauth2-bearer "$token" -sL -r 100-199 "$api/sha256/$hex" | cmp - <(head -c 200 "$blob" | tail -c 100) && echo ok)" = ok ] ||
    fail "GET with Range"
[ "$(curl --oauth2-bearer "$token" -sL -o /dev/null -w '%{http_code}' -r 3000- "$api/sha256/$hex")" = 416 ] ||
    [ "$FLOE_BLOB_BACKEND" = s3 ] || fail "unsatisfiable range"
other=$(printf 'other bytes %s' $RANDOM | sha256sum | cut -c1-64)
[ "$(curl --oauth2-bearer "$token" -s -o /tmp/floectl.out -w '%{http_code}' --data-binary 'not those' "$api?digest=sha256:$other")" = 400 ] ||
    fail "POST with a wrong digest: $(cat /tmp/floectl.out)"
[ "$(curl --oauth2-bearer "$token" -s -o /dev/null -w '%{http_code}' "$api/sha256/$other")" = 404 ] || fail "a refused POST stored something"
[ "$(curl --oauth2-bearer "$token" -s -o /tmp/floectl.out -w '%{http_code}' "$api/sha256/..%2F..%2Fetc%2Fpasswd")" = 400 ] ||
    fail "a blob name with ../: $(cat /tmp/floectl.out)"
big=$(mktemp)
head -c 12000000 /dev/urandom >"$big" # over api.max_body_bytes: S3 takes it presigned, local refuses
if [ "$FLOE_BLOB_BACKEND" = s3 ]; then
    bigu=$(isolated "$ctl" blob put "$big" -q) || fail "blob put of 12 MB through a presigned url"
    isolated "$ctl" blob get "$bigu" | cmp -s - "$big" || fail "12 MB blob round trip"
else
    expect 2 isolated "$ctl" blob put "$big"
    grep -q 'takes at most' /tmp/floectl.err || fail "local store, large blob: $(cat /tmp/floectl.err)"
fi
rm -f "$big"
# publish goes through the API (issue 26: a service needs no Kafka client) and a trigger
# fires on it; a uri workers cannot read as a blob is said at once, not at run time. The
# dataset is this run's: the first project to publish a dataset owns it (issue 19).
ds=ds-$FLOE_PROJECT
cat >/tmp/floectl.trig.yaml <<EOF
kind: launchplan
name: on_ctl_ds
version: "1"
workflow: wordcount@1
trigger:
  datasets: [{name: $ds}]
  inputs: {text: "$ds:uri"}
EOF
expect 0 "$ctl" register -f /tmp/floectl.trig.yaml
expect 0 "$ctl" activate launchplan on_ctl_ds
expect 0 "$ctl" publish $ds --partition date=2026-11-21 --uri file:///data/raw.csv -o json
grep -q 'warning: the uri is not in the blob store' /tmp/floectl.err || fail "publish file:// did not warn: $(cat /tmp/floectl.err)"
grep -q '"event_id": "' /tmp/floectl.out || fail "publish printed no event id: $(cat /tmp/floectl.out)"
for _ in $(seq 1 150); do # up to 15 s for the trigger to launch
    "$ctl" get launchplan on_ctl_ds -o json >/tmp/floectl.out 2>/dev/null
    grep -q '"launched": 1' /tmp/floectl.out && break
    sleep 0.1
done
grep -q '"launched": 1' /tmp/floectl.out || fail "the trigger did not launch on the published event: $(cat /tmp/floectl.out)"
expect 0 "$ctl" deactivate launchplan on_ctl_ds
# The project that published $ds owns it (issue 19); its admin grants another project.
expect 0 "$ctl" dataset get $ds -o table
grep -q "$ds: owned by $FLOE_PROJECT" /tmp/floectl.out || fail "dataset get: $(cat /tmp/floectl.out)"
expect 0 "$ctl" dataset grant $ds friend-$$ --trigger
expect 0 "$ctl" dataset get $ds -o json
grep -q "\"project\": \"friend-$$\"" /tmp/floectl.out || fail "no grant shown: $(cat /tmp/floectl.out)"
expect 2 "$ctl" dataset grant $ds friend-$$
expect 0 "$ctl" dataset revoke $ds friend-$$
expect 1 "$ctl" publish $ds --uri file:///x -p friend-$$   # another project's dataset: 403
grep -q "belongs to project $FLOE_PROJECT" /tmp/floectl.err || fail "publish into another's dataset: $(cat /tmp/floectl.err)"
# list executions by launch plan, requester and time (issue 26).
expect 0 "$ctl" list executions --launch-plan on_ctl_ds -o name
[ "$(wc -l </tmp/floectl.out)" = 1 ] || fail "list --launch-plan: $(cat /tmp/floectl.out)"
# Labels (issue 26): given at launch, shown, filtered on (all of them must match), kept by
# relaunch; a label that is not one is refused.
lid=$("$ctl" launch wordcount --input text=labelled --label team=ml --label run=a1 -q) || fail "launch --label"
expect 0 "$ctl" get execution "$lid" -o json
grep -q '"team": "ml"' /tmp/floectl.out || fail "labels not shown: $(cat /tmp/floectl.out)"
expect 0 "$ctl" list executions --label team=ml,run=a1 -o name
[ "$(cat /tmp/floectl.out)" = "$lid" ] || fail "list --label: $(cat /tmp/floectl.out)"
expect 0 "$ctl" list executions --label team=ml,run=b2 -o name
[ ! -s /tmp/floectl.out ] || fail "list --label with a label it lacks: $(cat /tmp/floectl.out)"
rid=$("$ctl" relaunch "$lid" -q) || fail "relaunch of a labelled execution"
expect 0 "$ctl" list executions --label run=a1 -o name
grep -qx "$rid" /tmp/floectl.out || fail "relaunch did not keep the labels: $(cat /tmp/floectl.out)"
! "$ctl" launch wordcount --input text=x --label 'bad key=1' >/dev/null 2>/tmp/floectl.err || fail "a bad label was accepted"
grep -q 'labels' /tmp/floectl.err || fail "bad label message: $(cat /tmp/floectl.err)"
expect 0 "$ctl" list executions --requested-by nobody-at-all -o name
[ ! -s /tmp/floectl.out ] || fail "list --requested-by nobody: $(cat /tmp/floectl.out)"
expect 0 "$ctl" list executions --since 2099-01-01 -o name
[ ! -s /tmp/floectl.out ] || fail "list --since the future: $(cat /tmp/floectl.out)"
expect 0 "$ctl" list executions --since 2020-01-01 --until 2099-01-01 -o name
[ -s /tmp/floectl.out ] || fail "list --since/--until found nothing"
expect 1 "$ctl" list executions --since yesterday
expect 2 "$ctl" list tasks --since 2020-01-01
expect 1 "$ctl" publish 'bad name' --uri file:///x
grep -q 'dataset' /tmp/floectl.err || fail "bad dataset name: $(cat /tmp/floectl.err)"
expect 0 "$ctl" publish $ds --partition date=2026-11-23 --uri file:///data/raw.csv --kafka
grep -q 'warning: blob uri "file:///data/raw.csv" is not in the blob store' /tmp/floectl.err || fail "publish --kafka file:// did not warn: $(cat /tmp/floectl.err)"
[[ "$buri" =~ ^floe://blobs/sha256/[0-9a-f]{64}$ ]] || fail "blob put -q printed \"$buri\""
expect 0 "$ctl" publish $ds --partition date=2026-11-22 --uri "$buri"
! grep -q warning /tmp/floectl.err || fail "publish of a blob store uri warned: $(cat /tmp/floectl.err)"
cat >/tmp/floectl.blobwf.yaml <<'YAML'
kind: task
name: count_bytes
version: "1"
container: {command: [/bin/sh, -c, 'echo "counting bytes" >&2; wc -c < "$FLOE_INPUTS/data" | tee "$FLOE_OUTPUTS/n"']}
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
expect 0 isolated "$ctl" launch count_bytes --input "data=@$blob" -o json
grep -q "\"uri\": \"floe://blobs/sha256/$hex\"" /tmp/floectl.out || fail "launch @file: $(cat /tmp/floectl.out)"
expect 2 "$ctl" launch count_bytes --input "data=@/nonexistent/file"

# A worker runs it: the nodes and their logs.
wlog=$(mktemp)
FLOE_WORKER_HTTP=127.0.0.1:18798 FLOE_WORKER_GRACE=1s "$worker" --class default >"$wlog" 2>&1 &
wpid=$!
trap 'kill $pid $wpid 2>/dev/null; wait $pid $wpid 2>/dev/null; rm -f "$log" "$wlog"' EXIT
expect 0 "$ctl" launch count_bytes --input "data=@$blob" --wait --wait-timeout 60s -o json
grep -q '"n": 3000' /tmp/floectl.out || fail "count_bytes output: $(cat /tmp/floectl.out) $(cat "$wlog")"
id=$(sed -n 's/^  "id": "\(.*\)",$/\1/p' /tmp/floectl.out)
expect 0 "$ctl" wait "$id" --timeout 60s -o name
[ "$(cat /tmp/floectl.out)" = "$id" ] || fail "wait -o name: $(cat /tmp/floectl.out)"
expect 0 "$ctl" get nodes "$id" -o table
grep -Eq '^c +SUCCEEDED +1' /tmp/floectl.out || fail "get nodes: $(cat /tmp/floectl.out)"
expect 0 isolated "$ctl" logs "$id/c"
[ "$(tr -d ' ' </tmp/floectl.out)" = 3000 ] || fail "logs stdout: $(cat /tmp/floectl.out)"
expect 0 isolated "$ctl" logs "$id/c" --stderr --attempt 1
[ "$(cat /tmp/floectl.out)" = "counting bytes" ] || fail "logs --stderr: $(cat /tmp/floectl.out)"
expect 1 "$ctl" logs "$id/nope"
grep -q 'no node "nope"' /tmp/floectl.err || fail "logs of an unknown node"
expect 1 "$ctl" logs "$id/c" --attempt 2
expect 2 "$ctl" logs "$id"

# A static sub-workflow (issue 23 asks for its test): a registered workflow used twice as a
# node, the second fed the first's output; its nodes appear as PARENT.NODE.
cat >/tmp/floectl.sub.yaml <<'YAML'
kind: task
name: double
version: "1"
inputs: {x: integer}
outputs: {y: integer}
container: {command: [/bin/sh, -c, 'echo $(( $(cat "$FLOE_INPUTS/x") * 2 )) > "$FLOE_OUTPUTS/y"']}
---
kind: workflow
name: inner
version: "1"
inputs: {x: integer}
outputs: {y: {node: d, output: y}}
nodes:
  - {id: d, task: double, inputs: {x: {input: x}}}
---
kind: workflow
name: outer
version: "1"
inputs: {x: integer}
outputs: {z: {node: second, output: y}}
nodes:
  - {id: first, workflow: inner@1, inputs: {x: {input: x}}}
  - {id: second, workflow: inner@1, inputs: {x: {node: first, output: y}}}
YAML
expect 0 "$ctl" register -f /tmp/floectl.sub.yaml
expect 0 "$ctl" launch outer --input x=5 --wait --wait-timeout 60s -o json
grep -q '"z": 20' /tmp/floectl.out || fail "sub-workflows: $(cat /tmp/floectl.out)"
sid=$(sed -n 's/^  "id": "\(.*\)",$/\1/p' /tmp/floectl.out)
expect 0 "$ctl" get nodes "$sid" -o table
grep -Eq '^first\.d +SUCCEEDED +1' /tmp/floectl.out && grep -Eq '^second\.d +SUCCEEDED +1' /tmp/floectl.out ||
    fail "sub-workflow nodes: $(cat /tmp/floectl.out)"

# While an execution runs, its nodes come live from its state: the running node RUNNING,
# the one after it QUEUED.
cat >/tmp/floectl.slowwf.yaml <<'YAML'
kind: task
name: nap
version: "1"
container: {command: [/bin/sh, -c, 'echo napping; sleep 3']}
---
kind: workflow
name: naps
version: "1"
nodes:
  - {id: first, task: nap}
  - {id: second, task: nap, after: [first]}
YAML
expect 0 "$ctl" register -f /tmp/floectl.slowwf.yaml
expect 0 "$ctl" launch naps -o json
id=$(sed -n 's/^  "id": "\(.*\)",$/\1/p' /tmp/floectl.out)
live=
for _ in $(seq 1 100); do # up to 10 s for the first node to be running
    "$ctl" get nodes "$id" -o table >/tmp/floectl.out 2>/tmp/floectl.err || fail "get nodes (live): $(cat /tmp/floectl.err)"
    if grep -Eq '^first +RUNNING' /tmp/floectl.out; then live=1; break; fi
    sleep 0.1
done
[ -n "$live" ] || fail "the first node never showed RUNNING: $(cat /tmp/floectl.out)"
grep -Eq '^second +QUEUED' /tmp/floectl.out || fail "live second node: $(cat /tmp/floectl.out)"
"$ctl" get nodes "$id" -o json | grep -q '"source": "live"' || fail "live nodes not marked live"
# watch (issue 21): each change a line, from RUNNING to the end; exit 0 as it succeeded.
expect 0 "$ctl" watch "$id" --interval 200ms --timeout 60s
grep -Eq '^[0-9:]{8}  second +SUCCEEDED +attempts 1' /tmp/floectl.out || fail "watch: $(cat /tmp/floectl.out)"
grep -Eq '\(execution\) +SUCCEEDED$' /tmp/floectl.out || fail "watch: no end: $(cat /tmp/floectl.out)"
[ "$(grep -c ' second ' /tmp/floectl.out)" -ge 2 ] || fail "watch did not follow second: $(cat /tmp/floectl.out)"
# ... through the live feed (issue 24), not by reading the table again and again.
! grep -q "no live feed" /tmp/floectl.err || fail "watch polled: $(cat /tmp/floectl.err)"

# Logs while the task runs (issue 20): -f shows what the task printed while it still runs
# (it waits for a marker the test creates only once it saw the line), then the rest and
# exits; without -f, what there is so far. From a namespace without the stack's disks.
marker=/tmp/floectl.marker.$$
rm -f "$marker"
cat >/tmp/floectl.talk.yaml <<YAML
kind: task
name: talk
version: "1"
container: {command: [/bin/sh, -c, 'echo first; while [ ! -e $marker ]; do sleep 0.05; done; echo second']}
---
kind: workflow
name: talkwf
version: "1"
nodes: [{id: t, task: talk}]
---
kind: workflow
name: afterwf
version: "1"
nodes: [{id: first, task: talk}, {id: then, task: bee, after: [first]}]
---
kind: task
name: bee
version: "1"
container: {command: [/bin/sh, -c, 'echo bee']}
---
kind: task
name: hang
version: "1"
container: {command: [/bin/sh, -c, 'echo before the end; exec sleep 120']}
---
kind: workflow
name: hangwf
version: "1"
nodes: [{id: h, task: hang}]
YAML
expect 0 "$ctl" register -f /tmp/floectl.talk.yaml
tid=$("$ctl" launch talkwf -q) || fail "launch talkwf"
isolated "$ctl" logs "$tid/t" -f >/tmp/floectl.follow 2>/tmp/floectl.follow.err &
fpid=$!
for _ in $(seq 1 200); do # up to 20 s for the first line to be shipped and shown
    grep -q first /tmp/floectl.follow && break
    sleep 0.1
done
grep -q first /tmp/floectl.follow || fail "logs -f did not show the first line while the task ran: $(cat /tmp/floectl.follow.err)"
"$ctl" get nodes "$tid" -o table | grep -Eq '^t +RUNNING' || fail "the task was not running any more: -f proved nothing"
expect 0 isolated "$ctl" logs "$tid/t"
[ "$(cat /tmp/floectl.out)" = first ] || fail "logs of a running attempt: $(cat /tmp/floectl.out)"
grep -q 'still running' /tmp/floectl.err || fail "logs of a running attempt did not say so: $(cat /tmp/floectl.err)"
touch "$marker"
wait $fpid || fail "logs -f exited with $?: $(cat /tmp/floectl.follow.err)"
[ "$(cat /tmp/floectl.follow)" = "$(printf 'first\nsecond')" ] || fail "logs -f printed: $(cat /tmp/floectl.follow)"
rm -f "$marker"
# -f on a node that has not started (its upstream runs) waits for it, then follows it;
# without -f it says so.
aid=$("$ctl" launch afterwf -q) || fail "launch afterwf"
isolated "$ctl" logs "$aid/then" -f >/tmp/floectl.follow 2>/tmp/floectl.follow.err &
fpid=$!
for _ in $(seq 1 200); do # up to 20 s for the upstream to run
    "$ctl" get nodes "$aid" -o table | grep -Eq '^first +RUNNING' && break
    sleep 0.1
done
"$ctl" get nodes "$aid" -o table | grep -Eq '^first +RUNNING' || fail "the upstream did not run"
expect 1 isolated "$ctl" logs "$aid/then"
grep -q 'has not started' /tmp/floectl.err || fail "logs of a node not started: $(cat /tmp/floectl.err)"
kill -0 $fpid 2>/dev/null || fail "logs -f of a node not started exited: $(cat /tmp/floectl.follow.err)"
touch "$marker"
wait $fpid || fail "logs -f of a node not started exited with $?: $(cat /tmp/floectl.follow.err)"
[ "$(cat /tmp/floectl.follow)" = bee ] || fail "logs -f of a later node printed: $(cat /tmp/floectl.follow)"
rm -f "$marker"
# A terminated attempt's output is kept (it was lost once: issue 26).
hid=$("$ctl" launch hangwf -q) || fail "launch hangwf"
for _ in $(seq 1 200); do # up to 20 s for its line to be shipped
    "$ctl" logs "$hid/h" >/tmp/floectl.out 2>/dev/null
    grep -q 'before the end' /tmp/floectl.out && break
    sleep 0.1
done
expect 0 "$ctl" terminate "$hid" --reason "test"
expect 4 "$ctl" wait "$hid" --timeout 30s # the execution failed (ABORTED): 4, not a failed call
expect 0 isolated "$ctl" logs "$hid/h"
[ "$(cat /tmp/floectl.out)" = "before the end" ] || fail "logs of a terminated attempt: $(cat /tmp/floectl.out) $(cat /tmp/floectl.err)"
# oci tasks from an image (issue 20): an OCI image layout built here from the busybox
# rootfs with umoci, unpacked once per digest under <oci.rootfs_dir>/.images and shared by
# attempts; a layout that does not exist fails the attempt naming the image.
if [ "$(id -u)" = 0 ] && command -v umoci >/dev/null && command -v runc >/dev/null; then
    img=$(mktemp -d)
    rootfs_dir=${FLOE_OCI_ROOTFS_DIR:-/var/lib/floe/rootfs}
    { umoci init --layout "$img/L" && umoci new --image "$img/L:t" &&
        umoci unpack --image "$img/L:t" "$img/B" >/dev/null &&
        cp -a "$rootfs_dir/busybox/." "$img/B/rootfs/" &&
        printf 'from the image %s\n' "$$" >"$img/B/rootfs/etc/motd" &&
        umoci repack --image "$img/L:t" "$img/B"; } >/dev/null || fail "building a test image"
    digest=$(skopeo inspect --format '{{.Digest}}' "oci:$img/L:t") || fail "skopeo inspect"
    cat >/tmp/floectl.image.yaml <<YAML
kind: task
name: fromimage
executor: oci
container: {image: "oci:$img/L:t", command: [/bin/sh, -c, 'cat /etc/motd; echo 7 > /floe/outputs/n']}
outputs: {n: integer}
---
kind: workflow
name: imagewf
outputs: {n: {from: {node: i, output: n}}}
nodes: [{id: i, task: fromimage}]
---
kind: task
name: noimage
executor: oci
retries: {user: 0, system: 0}
container: {image: "oci:$img/nothere:t", command: [/bin/true]}
---
kind: workflow
name: noimagewf
nodes: [{id: i, task: noimage}]
YAML
    expect 0 "$ctl" register -f /tmp/floectl.image.yaml
    for round in 1 2; do
        expect 0 "$ctl" launch imagewf --wait --wait-timeout 120s -o json
        grep -q '"n": 7' /tmp/floectl.out || fail "image task, round $round: $(cat /tmp/floectl.out) $(tail -5 "$wlog")"
    done
    iid=$(sed -n 's/^  "id": "\(.*\)",$/\1/p' /tmp/floectl.out)
    expect 0 "$ctl" logs "$iid/i"
    [ "$(cat /tmp/floectl.out)" = "from the image $$" ] || fail "image task's output: $(cat /tmp/floectl.out)"
    [ -f "$rootfs_dir/.images/sha256-${digest#sha256:}/.complete" ] || fail "the image was not cached by its digest"
    expect 4 "$ctl" launch noimagewf --wait --wait-timeout 60s -o json
    grep -q 'image oci:.*nothere' /tmp/floectl.out || fail "a missing image's error: $(cat /tmp/floectl.out)"
    rm -rf "$img" "$rootfs_dir/.images/sha256-${digest#sha256:}"
fi

kill -TERM $wpid
wait $wpid || fail "floe-worker exited with $? on SIGTERM"
rm -f "$blob"

kill -TERM $pid
wait $pid || fail "floe-scheduler exited with $? on SIGTERM"
trap 'rm -f "$log" "$wlog"' EXIT
echo "floectl: all checks passed"
