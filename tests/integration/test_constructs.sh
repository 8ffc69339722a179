#!/usr/bin/env bash
# The workflow constructs of issue 23 against a real scheduler and worker. Map nodes: items in order through a
# downstream task, concurrency, per-item retries, failures below and above
# min_success_ratio (a failed item an absent value, null in JSON), an empty list, items
# listed as nodes ID.k, and a map of many noop items.
# A list of BIG file paths (default 100000) passes from a task through a map and back by
# reference, and a cacheable task reading it keys as it would with the list inline.
# Execution timeouts: the workflow's and the launch plan's. Branches: every case, the else,
# no case holding. Gates: sleep, approve (across a leader kill -9), reject, signal, timeout.
# on_failure: the handler with the failed node and its error. A task's queue_timeout.
# usage: test_constructs.sh FLOECTL FLOE-SCHEDULER FLOE-WORKER [BIG]   (settings from ops/stack env)
set -uo pipefail
ctl=$1 sched=$2 worker=$3 big=${4:-100000}
export FLOE_API_URL=http://127.0.0.1:18783
export FLOE_PROJECT=map-$$-$RANDOM
. "$(dirname "$0")/cli_lib.sh"

pid= wpid=
trap 'kill $pid $wpid 2>/dev/null; wait $pid $wpid 2>/dev/null; rm -rf "$log" "$wlog" "$work"' EXIT
start() { # start [VAR=VALUE...]: a scheduler and a worker with these settings
    env "$@" FLOE_WORKER_HTTP=127.0.0.1:18799 FLOE_WORKER_NOOP=on FLOE_WORKER_CONCURRENCY=4 \
        "$worker" --class default >>"$wlog" 2>&1 &
    wpid=$!
    sched_start "$@"
}
stop() { # both exit 0 on SIGTERM (under the sanitizers: nothing leaked)
    kill $pid $wpid
    wait $pid || fail "floe-scheduler exited with $? on SIGTERM"
    wait $wpid || fail "floe-worker exited with $? on SIGTERM"
    pid= wpid=
}
start

cat >"$work/map.yaml" <<YAML
kind: task
name: square
inputs: {x: integer}
outputs: {y: integer, s: string}
retries: {user: 1, backoff: {initial: 10ms, max: 10ms}}
container:
  command:
    - /bin/sh
    - -c
    - |
      x=\$(cat "\$FLOE_INPUTS/x")
      # an item that fails: x divisible by 4 (until fixed), x = 5 (its first attempt only)
      [ \$((x % 4)) -eq 0 ] && [ ! -e "$work/fixed" ] && { echo "no multiple of 4: \$x" >&2; exit 3; }
      if [ "\$x" = 5 ] && [ ! -e "$work/five" ]; then touch "$work/five"; exit 1; fi
      echo \$((x * x)) > "\$FLOE_OUTPUTS/y"
      printf 'item %s' "\$x" > "\$FLOE_OUTPUTS/s"
---
kind: task
name: total
inputs: {ys: "list<integer>"}
outputs: {sum: integer, count: integer}
container:
  command: [/bin/sh, -c, 'tr -d "[] " < "\$FLOE_INPUTS/ys" | tr , "\n" | grep -v null | awk "{s+=\\\$1; n++} END {print s+0 > \"\$FLOE_OUTPUTS/sum\"; print n+0 > \"\$FLOE_OUTPUTS/count\"}"']
---
kind: task
name: ids
inputs: {n: integer}
outputs: {xs: "list<integer>"}
container:
  command: [/bin/sh, -c, 'awk -v n="\$(cat "\$FLOE_INPUTS/n")" "BEGIN { printf \\"[\\"; for (i = 1; i <= n; i++) printf \\"%s%d\\", (i > 1 ? \\",\\" : \\"\\"), i; print \\"]\\" }" > "\$FLOE_OUTPUTS/xs"']
---
kind: workflow
name: squares
inputs:
  n: integer
  ratio: {type: float, default: 1.0}
outputs:
  ys: {from: {node: sq, output: y}}
  ss: {from: {node: sq, output: s}}
  sum: {from: {node: add, output: sum}}
  count: {from: {node: add, output: count}}
nodes:
  - {id: gen, task: square_ids}
  - id: sq
    task: square
    map: {over: x, concurrency: 3, min_success_ratio: 0.7}
    inputs: {x: {node: gen, output: xs}}
  - {id: add, task: total, inputs: {ys: {node: sq, output: y}}}
YAML
sed -i 's/task: square_ids/task: ids, inputs: {n: {input: n}}/' "$work/map.yaml"
expect 0 "$ctl" register -f "$work/map.yaml"

# 10 items: 4 and 8 fail (2 of 10, ratio 0.8 >= 0.7), 5 succeeds on its retry.
expect 0 "$ctl" launch squares --input n=10 --wait --wait-timeout 120s -o json
id=$(jq -r .id "$work/out")
json '.phase == "SUCCEEDED"'
json '.outputs.ys == [1,4,9,null,25,36,49,null,81,100]'
json '.outputs.ss[2] == "item 3" and .outputs.ss[3] == null'
json '.outputs.sum == 305 and .outputs.count == 8'
expect 0 "$ctl" get nodes "$id" -o json
json '[.items[] | select(.id == "sq") | .phase] == ["SUCCEEDED"]'
json '[.items[] | select(.id == "sq") | .map] == [{"items": 10, "SUCCEEDED": 8, "FAILED": 2}]'
json '[.items[] | select(.id | startswith("sq.")) ] | length == 10'
json '[.items[] | select(.id == "sq.3" or .id == "sq.7") | .phase] == ["FAILED","FAILED"]'
json '[.items[] | select(.id == "sq.3") | .attempts] == [2]'  # retried once
json '[.items[] | select(.id == "sq.4") | .phase] == ["SUCCEEDED"]'   # x = 5: its retry
json '[.items[] | select(.id == "sq.3") | .error.message] | .[0] | test("no multiple of 4")'

# 12 items: 4, 8 and 12 fail: 9 of 12 = 0.75 >= 0.7 succeeds; 16 items: 12 of 16 = 0.75.
# 4 items: 3 of 4 = 0.75; 3 items: all succeed. Then 8 items: 6 of 8 = 0.75 ... all above:
# below it takes 20 items with ratio 0.8 (16 of 20): a workflow of its own.
sed 's/min_success_ratio: 0.7/min_success_ratio: 0.85/; s/name: squares/name: strict/' "$work/map.yaml" |
    awk 'BEGIN{p=0} /^kind: workflow/{p=1} p' >"$work/strict.yaml"
expect 0 "$ctl" register -f "$work/strict.yaml"
expect 4 "$ctl" launch strict --input n=12 --wait --wait-timeout 120s -o json
json '.phase == "FAILED"'
json '.error | test("node sq: 3 of 12 items failed; 11 had to succeed")'
sid=$(jq -r .id "$work/out")
expect 0 "$ctl" get nodes "$sid" -o json
json '[.items[] | select(.id == "sq") | .error.code] == ["map_failed"]'
json '[.items[] | select(.id == "add") | .phase] == ["SKIPPED"]'

# Recover (issue 23): only the failed items run again; the others are taken over.
touch "$work/fixed"
expect 0 "$ctl" recover "$sid" --wait -o json
json '.phase == "SUCCEEDED"'
json '.outputs.ys == [1,4,9,16,25,36,49,64,81,100,121,144]'
rid=$(jq -r .id "$work/out")
expect 0 "$ctl" get nodes "$rid" -o json
json '[.items[] | select(.id | startswith("sq.")) | select(.phase == "RECOVERED")] | length == 9'
json '[.items[] | select(.id | startswith("sq.")) | select(.phase == "SUCCEEDED") | .id] | sort == ["sq.11","sq.3","sq.7"]'
json '[.items[] | select(.id == "gen") | .phase] == ["RECOVERED"]'

# An empty list: no items, empty lists out.
expect 0 "$ctl" launch squares --input n=0 --wait --wait-timeout 60s -o json
json '.phase == "SUCCEEDED" and .outputs.ys == [] and .outputs.count == 0'

# Many noop items, 200 at a time: in order, every one a node of its own.
cat >"$work/noop.yaml" <<'YAML'
kind: task
name: nop
executor: noop
inputs: {x: integer}
outputs: {y: integer}
---
kind: workflow
name: many
inputs: {xs: "list<integer>"}
outputs: {ys: {from: {node: m, output: y}}}
nodes:
  - {id: m, task: nop, map: {over: x, concurrency: 200}, inputs: {x: {input: xs}}}
YAML
expect 0 "$ctl" register -f "$work/noop.yaml"
python3 -c 'import json; print(json.dumps({"xs": list(range(5000))}))' >"$work/in.json"
expect 0 "$ctl" launch many --inputs-file "$work/in.json" --wait --wait-timeout 180s -o json
json '.phase == "SUCCEEDED" and (.outputs.ys | length) == 5000'

# A list of $big file paths made by a task (over values.inline_max: kept by reference),
# mapped over and gathered back (by reference too), read whole by the next task.
cat >"$work/paths.yaml" <<'YAML'
kind: task
name: list_paths
inputs: {n: integer}
outputs: {paths: "list<string>"}
container:
  command: [/bin/sh, -c, 'awk -v n="$(cat "$FLOE_INPUTS/n")" "BEGIN { printf \"[\"; for (i = 1; i <= n; i++) printf \"%s\\\"/data/2026/12/05/events/part-%06d.parquet\\\"\", (i > 1 ? \",\" : \"\"), i; print \"]\" }" > "$FLOE_OUTPUTS/paths"']
---
kind: task
name: touch_path
executor: noop
inputs: {path: string}
outputs: {rows: integer}
---
kind: task
name: count_paths
inputs: {paths: "list<string>", rows: "list<integer>"}
outputs: {n: integer, last: string}
cache: true
container:
  command: [/bin/sh, -c, 'jq length "$FLOE_INPUTS/paths" > "$FLOE_OUTPUTS/n"; jq -r ".[-1]" "$FLOE_INPUTS/paths" > "$FLOE_OUTPUTS/last"']
---
kind: workflow
name: paths
inputs: {n: integer}
outputs:
  n: {from: {node: count, output: n}}
  last: {from: {node: count, output: last}}
  paths: {from: {node: gen, output: paths}}
nodes:
  - {id: gen, task: list_paths, inputs: {n: {input: n}}}
  - id: each
    task: touch_path
    map: {over: path, concurrency: 1000}
    inputs: {path: {node: gen, output: paths}}
  - id: count
    task: count_paths
    inputs: {paths: {node: gen, output: paths}, rows: {node: each, output: rows}}
YAML
expect 0 "$ctl" register -f "$work/paths.yaml"
expect 0 "$ctl" launch paths --input "n=$big" --wait --wait-timeout 280s -o json
json ".phase == \"SUCCEEDED\" and .outputs.n == $big and (.outputs.paths | length) == $big"
json ".outputs.last == \"/data/2026/12/05/events/part-$(printf %06d "$big").parquet\""
bid=$(jq -r .id "$work/out")
stored=$(psql "$FLOE_POSTGRES_URL" -tAc "SELECT octet_length(outputs) FROM executions WHERE id = '$bid'")
[ "$stored" -lt 4096 ] || fail "the execution's outputs are $stored bytes: not by reference"
if [ "$big" -ge 100000 ]; then # 4 bytes an item: over values.inline_max from 65,536 items
    stored=$(psql "$FLOE_POSTGRES_URL" -tAc "SELECT octet_length(outputs) FROM node_executions WHERE execution_id = '$bid' AND node_id = 'each'")
    [ "$stored" -lt 4096 ] || fail "the map's gathered outputs are $stored bytes: not by reference"
fi

# The cache key of a task reading a value by reference is the one it has inline: 2000
# paths (90 KB) run inline, then again with values.inline_max at 1 KiB, by reference: a hit.
expect 0 "$ctl" launch paths --input n=2000 --wait --wait-timeout 120s -o json
json '.phase == "SUCCEEDED" and .outputs.n == 2000'
iid=$(jq -r .id "$work/out")
stored=$(psql "$FLOE_POSTGRES_URL" -tAc "SELECT octet_length(outputs) FROM node_executions WHERE execution_id = '$iid' AND node_id = 'gen'")
[ "$stored" -gt 50000 ] || fail "gen's outputs are $stored bytes: by reference where they should be inline"
stop
start FLOE_VALUES_INLINE_MAX=1024
expect 0 "$ctl" launch paths --input n=2000 --wait --wait-timeout 120s -o json
json '.phase == "SUCCEEDED" and .outputs.n == 2000'
cid=$(jq -r .id "$work/out")
stored=$(psql "$FLOE_POSTGRES_URL" -tAc "SELECT octet_length(outputs) FROM node_executions WHERE execution_id = '$cid' AND node_id = 'gen'")
[ "$stored" -lt 1024 ] || fail "gen's outputs are $stored bytes with values.inline_max=1KiB: not by reference"
expect 0 "$ctl" get nodes "$cid" -o json
json '[.items[] | select(.id == "count") | .phase] == ["CACHED"]'

# Execution timeouts (issue 23): the workflow's, and a launch plan's on a workflow without.
cat >"$work/slow.yaml" <<'YAML'
kind: task
name: nap
inputs: {s: integer}
container: {command: [/bin/sh, -c, 'sleep "$(cat "$FLOE_INPUTS/s")"']}
---
kind: workflow
name: slow
timeout: 2s
inputs: {s: {type: integer, default: 60}}
nodes: [{id: n, task: nap, inputs: {s: {input: s}}}]
---
kind: workflow
name: unbounded
inputs: {s: {type: integer, default: 60}}
nodes: [{id: n, task: nap, inputs: {s: {input: s}}}]
---
kind: launchplan
name: bounded
workflow: unbounded
timeout: 3s
YAML
expect 0 "$ctl" register -f "$work/slow.yaml"
t0=$(date +%s)
expect 4 "$ctl" launch slow --wait --wait-timeout 60s -o json
json '.phase == "TIMED_OUT" and (.error | test("ran past its timeout"))'
expect 4 "$ctl" launch launchplan/bounded --wait --wait-timeout 60s -o json
json '.phase == "TIMED_OUT"'
expect 4 "$ctl" relaunch "$(jq -r .id "$work/out")" --wait -o json # the plan's timeout holds
json '.phase == "TIMED_OUT"'
[ $(( $(date +%s) - t0 )) -lt 40 ] || fail "the timeouts took $(( $(date +%s) - t0 )) s (the tasks sleep 60 s)"
expect 0 "$ctl" launch unbounded --input s=1 --wait --wait-timeout 60s -o json
json '.phase == "SUCCEEDED"'

# Branches (issue 23): each case and the else, conditions over integers, strings and
# datetimes with and/or/not, the untaken cases SKIPPED, the branch's output read downstream;
# a branch without an else where no case holds fails the execution.
cat >"$work/branch.yaml" <<'YAML'
kind: task
name: label
inputs: {tag: string}
outputs: {out: string}
container: {command: [/bin/sh, -c, 'printf "%s" "$(cat "$FLOE_INPUTS/tag")" > "$FLOE_OUTPUTS/out"']}
---
kind: task
name: measure
inputs: {n: integer}
outputs: {size: integer}
container: {command: [/bin/sh, -c, 'cat "$FLOE_INPUTS/n" > "$FLOE_OUTPUTS/size"']}
---
kind: workflow
name: route
inputs:
  n: integer
  mode: {type: string, default: auto}
  at: {type: datetime, default: "2026-01-01T00:00:00Z"}
outputs: {out: {from: {node: echo, output: out}}}
nodes:
  - {id: m, task: measure, inputs: {n: {input: n}}}
  - id: pick
    branch:
      - when: {and: [{gt: [{node: m, output: size}, 1000]}, {ne: [{input: mode}, small]}]}
        task: label
        inputs: {tag: big}
      - when: {or: [{eq: [{input: mode}, fast]}, {not: {lt: [{input: at}, "2026-06-01T00:00:00Z"]}}]}
        task: label
        inputs: {tag: fast}
      - {task: label, inputs: {tag: {input: mode}}}
  - {id: echo, task: label, inputs: {tag: {node: pick, output: out}}}
---
kind: workflow
name: strict_route
inputs: {n: integer}
nodes:
  - id: pick
    branch:
      - {when: {gt: [{input: n}, 10]}, task: label, inputs: {tag: big}}
YAML
expect 0 "$ctl" register -f "$work/branch.yaml"
route() { # route WANT INPUT...: the execution's output is WANT
    local want=$1; shift
    local args=()
    for i in "$@"; do args+=(--input "$i"); done
    expect 0 "$ctl" launch route "${args[@]}" --wait --wait-timeout 60s -o json
    json ".phase == \"SUCCEEDED\" and .outputs.out == \"$want\""
}
route big n=5000
bid=$(jq -r .id "$work/out")
route small n=5000 mode=small
route fast n=1 mode=fast
route fast n=1 at=2026-07-01T00:00:00Z
route auto n=1
expect 0 "$ctl" get nodes "$bid" -o json
json '[.items[] | select(.id | startswith("pick")) | "\(.id)=\(.phase)"] | sort == ["pick.else=SKIPPED","pick.if0=SUCCEEDED","pick.if1=SKIPPED","pick.when=SUCCEEDED","pick=SUCCEEDED"]'
expect 0 "$ctl" launch strict_route --input n=50 --wait --wait-timeout 60s -o json
json '.phase == "SUCCEEDED"'
expect 4 "$ctl" launch strict_route --input n=5 --wait --wait-timeout 60s -o json
json '.phase == "FAILED" and (.error | test("no case of the branch holds"))'

# Gates (issue 23): a sleep, an approval (answered after the leader was killed -9 while
# it waited), a typed signal; answers before a gate waits and of the wrong type refused;
# a rejection and a timeout fail the execution.
cat >"$work/gates.yaml" <<'YAML'
kind: workflow
name: gated
outputs:
  by: {from: {node: ok, output: by}}
  level: {from: {node: level, output: value}}
  note: {from: {node: done, output: out}}
nodes:
  - {id: nap, gate: {sleep: 1s}}
  - {id: ok, gate: {approve: {timeout: 5m}}, after: [nap]}
  - {id: level, gate: {signal: {type: integer, timeout: 5m}}, after: [ok]}
  - {id: done, task: label, inputs: {tag: {node: ok, output: comment}}, after: [level]}
---
kind: workflow
name: impatient
nodes: [{id: g, gate: {approve: {timeout: 2s}}}]
YAML
expect 0 "$ctl" register -f "$work/gates.yaml"
waiting() { # waiting EXEC NODE: until the gate waits (RUNNING), 60 s at most
    for _ in $(seq 1 600); do
        "$ctl" get nodes "$1" -o json >"$work/nodes" 2>/dev/null &&
            [ "$(jq -r --arg n "$2" '.items[] | select(.id == $n) | .phase' "$work/nodes")" = RUNNING ] &&
            return
        sleep 0.1
    done
    fail "gate $2 of $1 did not wait within 60 s: $(cat "$work/nodes")"
}
expect 0 "$ctl" launch gated -q
gid=$(cat "$work/out")
expect 1 "$ctl" signal "$gid/level" 3 # not waiting yet
grep -q 'is not waiting' "$work/err" || fail "an early signal: $(cat "$work/err")"
waiting "$gid" ok
kill -9 $pid; wait $pid 2>/dev/null
env "$sched" >>"$log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do "$ctl" list tasks >/dev/null 2>&1 && break; sleep 0.1; done
expect 0 "$ctl" approve "$gid/ok" --comment "looks good"
waiting "$gid" level # the new leader applied the approval
expect 1 "$ctl" signal "$gid/level" '"seven"'
grep -q 'the gate takes integer' "$work/err" || fail "a mistyped signal: $(cat "$work/err")"
expect 0 "$ctl" signal "$gid/level" 7
expect 0 "$ctl" wait "$gid" --timeout 60s -o json
expect 0 "$ctl" get execution "$gid" -o json
json '.phase == "SUCCEEDED" and .outputs.level == 7 and .outputs.note == "looks good" and (.outputs.by | length) > 0'
expect 0 "$ctl" launch gated -q
rid=$(cat "$work/out")
waiting "$rid" ok
expect 0 "$ctl" reject "$rid/ok" --comment "not today"
expect 4 "$ctl" wait "$rid" --timeout 60s
expect 0 "$ctl" get execution "$rid" -o json
json '.phase == "FAILED" and (.error | test("rejected by .*: not today"))'
expect 4 "$ctl" launch impatient --wait --wait-timeout 60s -o json
json '.phase == "FAILED" and (.error | test("within the gate.s timeout"))'

# on_failure (issue 23): the handler runs once with the failed node's id and error (and a
# workflow input); the execution still ends FAILED; a success never runs it.
cat >"$work/onfail.yaml" <<YAML
kind: task
name: note_failure
inputs: {failed_node: string, error: string, where: string}
container:
  command: [/bin/sh, -c, 'printf "%s|%s|%s" "\$(cat "\$FLOE_INPUTS/failed_node")" "\$(cat "\$FLOE_INPUTS/error")" "\$(cat "\$FLOE_INPUTS/where")" >> "$work/failures"']
---
kind: task
name: maybe_fail
inputs: {fail: boolean}
outputs: {out: string}
container: {command: [/bin/sh, -c, 'if [ "\$(cat "\$FLOE_INPUTS/fail")" = true ]; then echo "disk on fire" >&2; exit 7; fi; echo ok > "\$FLOE_OUTPUTS/out"']}
---
kind: workflow
name: guarded
inputs: {fail: boolean, where: {type: string, default: "#ops"}}
on_failure:
  task: note_failure
  inputs: {where: {input: where}}
nodes:
  - {id: first, task: label, inputs: {tag: x}}
  - {id: risky, task: maybe_fail, inputs: {fail: {input: fail}}, after: [first]}
  - {id: never, task: label, inputs: {tag: {node: risky, output: out}}}
YAML
expect 0 "$ctl" register -f "$work/onfail.yaml"
expect 4 "$ctl" launch guarded --input fail=true --wait --wait-timeout 60s -o json
json '.phase == "FAILED" and (.error | test("node risky"))'
fid=$(jq -r .id "$work/out")
[ "$(wc -l <"$work/failures" 2>/dev/null || echo 0)" -le 1 ] || fail "the handler ran more than once"
grep -q '^risky|.*exit.*|#ops$' "$work/failures" || fail "what the handler got: $(cat "$work/failures" 2>&1)"
expect 0 "$ctl" get nodes "$fid" -o json
json '[.items[] | select(.id == "on_failure" or .id == "never") | "\(.id)=\(.phase)"] | sort == ["never=SKIPPED","on_failure=SUCCEEDED"]'
rm -f "$work/failures"
expect 0 "$ctl" launch guarded --input fail=false --wait --wait-timeout 60s -o json
json '.phase == "SUCCEEDED"'
[ ! -e "$work/failures" ] || fail "the handler ran on a success"

# A task's queue_timeout (issue 23): no worker of its class claims it; it fails within it,
# not within engine.claim_timeout (30 min).
cat >"$work/stranded.yaml" <<'YAML'
kind: task
name: stranded
resource_class: large
queue_timeout: 2s
retries: {system: 0}
container: {command: [/bin/true]}
---
kind: workflow
name: stranded_wf
nodes: [{id: s, task: stranded}]
YAML
expect 0 "$ctl" register -f "$work/stranded.yaml"
expect 4 "$ctl" launch stranded_wf --wait --wait-timeout 60s -o json
json '.phase == "FAILED" and (.error | test("no worker claimed the attempt within its queue time"))'
stop
echo "ok: workflow constructs"
