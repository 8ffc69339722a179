#!/usr/bin/env bash
# Sub-workflows, launch-plan nodes and dynamic workflows (issue 23) against a real
# scheduler and worker. A static sub-workflow inlined (its nodes "sub.x", its output read
# downstream). A launch-plan node: a child execution with the plan's fixed and default
# inputs and the node's bindings, linked both ways (the parent's children, the child's
# parent), its outputs read downstream; a child that fails fails the node (child_failed);
# terminating the parent aborts its running child; a leader killed -9 while a child runs
# (the parent ends when the child does, under the new leader). A dynamic task: the
# workflow it returns runs as a child and gives the node's outputs; a document that does
# not compile fails the node as USER with the located message; a dynamic task that calls
# itself stops at spec.max_depth. Maps over a launch plan and a sub-workflow: a child per
# item, gathered in order.
# usage: test_children.sh FLOECTL FLOE-SCHEDULER FLOE-WORKER   (settings from ops/stack env)
set -uo pipefail
ctl=$1 sched=$2 worker=$3
export FLOE_API_URL=http://127.0.0.1:18784
export FLOE_PROJECT=kids-$$-$RANDOM
. "$(dirname "$0")/cli_lib.sh"

pid= wpid=
trap 'kill $pid $wpid 2>/dev/null; wait $pid $wpid 2>/dev/null; rm -rf "$log" "$wlog" "$work"' EXIT
sched_start FLOE_CHILD_CHECK=2s
FLOE_WORKER_HTTP=127.0.0.1:18798 FLOE_WORKER_CONCURRENCY=4 "$worker" --class default >>"$wlog" 2>&1 &
wpid=$!

cat >"$work/kids.yaml" <<'YAML'
kind: task
name: add
inputs: {a: integer, b: integer}
outputs: {sum: integer}
container: {command: [/bin/sh, -c, 'echo $(( $(cat "$FLOE_INPUTS/a") + $(cat "$FLOE_INPUTS/b") )) > "$FLOE_OUTPUTS/sum"']}
---
kind: task
name: nap
inputs: {s: integer}
outputs: {s: integer}
container: {command: [/bin/sh, -c, 'sleep "$(cat "$FLOE_INPUTS/s")"; cp "$FLOE_INPUTS/s" "$FLOE_OUTPUTS/s"']}
---
kind: task
name: boom
inputs: {a: integer}
outputs: {sum: integer}
container: {command: [/bin/sh, -c, 'echo "no sum for $(cat "$FLOE_INPUTS/a")" >&2; exit 3']}
---
kind: workflow
name: inner
inputs: {x: integer}
outputs: {y: {node: twice, output: sum}}
nodes:
  - {id: once, task: add, inputs: {a: {input: x}, b: 1}}
  - {id: twice, task: add, inputs: {a: {node: once, output: sum}, b: 1}}
---
kind: workflow
name: outer
inputs: {x: integer}
outputs: {z: {node: last, output: sum}}
nodes:
  - {id: sub, workflow: inner, inputs: {x: {input: x}}}
  - {id: last, task: add, inputs: {a: {node: sub, output: y}, b: 10}}
---
kind: workflow
name: adder
inputs: {a: integer, b: integer, s: {type: integer, default: 0}}
outputs: {sum: {node: n, output: sum}}
nodes:
  - {id: z, task: nap, inputs: {s: {input: s}}}
  - {id: n, task: add, inputs: {a: {input: a}, b: {input: b}}, after: [z]}
---
kind: launchplan
name: add100
workflow: adder
fixed_inputs: {b: 100}
default_inputs: {a: 1}
---
kind: workflow
name: caller
inputs: {x: integer, s: {type: integer, default: 0}}
outputs: {r: {node: after, output: sum}}
nodes:
  - {id: first, task: add, inputs: {a: {input: x}, b: 1}}
  - {id: lp, launchplan: add100, inputs: {a: {node: first, output: sum}, s: {input: s}}}
  - {id: lp2, launchplan: add100}
  - {id: after, task: add, inputs: {a: {node: lp, output: sum}, b: {node: lp2, output: sum}}}
---
kind: workflow
name: failing
inputs: {a: integer}
outputs: {sum: {node: n, output: sum}}
nodes: [{id: n, task: boom, inputs: {a: {input: a}}}]
---
kind: launchplan
name: failing_lp
workflow: failing
---
kind: workflow
name: calls_failing
nodes: [{id: lp, launchplan: failing_lp, inputs: {a: 5}}]
YAML
expect 0 "$ctl" register -f "$work/kids.yaml"

# A static sub-workflow: inlined, its nodes named sub.once and sub.twice.
expect 0 "$ctl" launch outer --input x=1 --wait --wait-timeout 60s -o json
json '.phase == "SUCCEEDED" and .outputs.z == 13'
oid=$(jq -r .id "$work/out")
expect 0 "$ctl" get nodes "$oid" -o json
json '([.items[].id] | sort) == ["last", "sub.once", "sub.twice"]'

# A launch-plan node: the child gets b fixed (100), a bound (x + 1) or defaulted (1).
expect 0 "$ctl" launch caller --input x=4 --wait --wait-timeout 90s -o json
json '.phase == "SUCCEEDED" and .outputs.r == 206' # (5 + 100) + (1 + 100)
cid=$(jq -r .id "$work/out")
json '(.children | length) == 2 and ([.children[].node] | sort) == ["lp", "lp2"] and ([.children[].phase] | unique) == ["SUCCEEDED"]'
kid=$(jq -r '.children[] | select(.node == "lp") | .id' "$work/out")
expect 0 "$ctl" get execution "$kid" -o json
json '.parent.execution == "'"$cid"'" and .parent.node == "lp" and .parent.attempt == 1'
json '.launch_plan.name == "add100" and .inputs.a == 5 and .inputs.b == 100 and .outputs.sum == 105'

# A child that fails fails its node as USER child_failed, naming the child.
expect 4 "$ctl" launch calls_failing --wait --wait-timeout 60s -o json
json '.phase == "FAILED"'
fid=$(jq -r .id "$work/out")
expect 0 "$ctl" get nodes "$fid" -o json
json '.items[] | select(.id == "lp") | .phase == "FAILED" and .error.code == "child_failed" and (.error.message | test("ended FAILED"))'

# Terminating the parent aborts its running child.
expect 0 "$ctl" launch caller --input x=1 --input s=60 -q
tid=$(cat "$work/out")
kid=
for _ in $(seq 1 300); do
    "$ctl" get execution "$tid" -o json >"$work/ex" 2>/dev/null &&
        kid=$(jq -r '.children[]? | select(.node == "lp" and .phase == "RUNNING") | .id' "$work/ex")
    [ -n "$kid" ] && break
    sleep 0.1
done
[ -n "$kid" ] || fail "no running child of $tid within 30 s: $(cat "$work/ex")"
expect 0 "$ctl" terminate "$tid"
expect 4 "$ctl" wait "$tid" --timeout 60s -o json
expect 4 "$ctl" wait "$kid" --timeout 60s -o json
json '.phase == "ABORTED" and (.error | test("parent"))'

# The leader killed -9 while a child runs: the new leader ends the parent when it ends.
expect 0 "$ctl" launch caller --input x=2 --input s=3 -q
kid_parent=$(cat "$work/out")
for _ in $(seq 1 300); do
    "$ctl" get execution "$kid_parent" -o json >"$work/ex" 2>/dev/null &&
        [ "$(jq -r '[.children[]? | select(.node == "lp")] | length' "$work/ex")" = 1 ] && break
    sleep 0.1
done
kill -9 $pid; wait $pid 2>/dev/null
sched_start FLOE_CHILD_CHECK=2s
expect 0 "$ctl" wait "$kid_parent" --timeout 90s -o json
json '.phase == "SUCCEEDED" and .outputs.r == 204'

# Maps over a launch plan and over a sub-workflow: one child execution per item, the
# outputs gathered in item order; a failing child fails its item only (the ratio allows).
cat >"$work/fan.yaml" <<'YAML'
kind: workflow
name: fan_lp
inputs: {xs: "list<integer>"}
outputs: {sums: {node: many, output: sum}}
nodes:
  - {id: many, launchplan: add100, map: {over: a, concurrency: 2}, inputs: {a: {input: xs}}}
---
kind: workflow
name: fan_wf
inputs: {xs: "list<integer>"}
outputs: {ys: {node: each, output: y}, total: {node: sum, output: sum}}
nodes:
  - {id: each, workflow: inner, map: x, inputs: {x: {input: xs}}}
  - {id: sum, task: add, inputs: {a: 0, b: 0}, after: [each]}
---
kind: workflow
name: fan_failing
outputs: {sums: {node: many, output: sum}}
nodes:
  - {id: many, launchplan: failing_lp, map: {over: a, min_success_ratio: 0}, inputs: {a: [1, 2]}}
YAML
expect 0 "$ctl" register -f "$work/fan.yaml"
expect 0 "$ctl" launch fan_lp --input 'xs=[1,2,3]' --wait --wait-timeout 90s -o json
json '.phase == "SUCCEEDED" and .outputs.sums == [101, 102, 103]'
json '([.children[].node] | sort) == ["many.0", "many.1", "many.2"] and ([.children[].phase] | unique) == ["SUCCEEDED"]'
expect 0 "$ctl" launch fan_wf --input 'xs=[5,1,7,2]' --wait --wait-timeout 90s -o json
json '.phase == "SUCCEEDED" and .outputs.ys == [7, 3, 9, 4] and (.children | length) == 4'
kid=$(jq -r '.children[] | select(.node == "each.2") | .id' "$work/out")
expect 0 "$ctl" get execution "$kid" -o json
json '.workflow.name == "inner" and .inputs.x == 7 and .parent.node == "each.2" and .launch_plan == null'
expect 0 "$ctl" launch fan_failing --wait --wait-timeout 90s -o json
json '.phase == "SUCCEEDED" and .outputs.sums == [null, null]'

# A dynamic task: it returns a chain of n add nodes, run as its node's child.
cat >"$work/dyn.yaml" <<'YAML'
kind: task
name: chain
dynamic: true
inputs: {n: integer, start: integer}
outputs: {total: integer}
container:
  command:
    - /bin/sh
    - -c
    - |
      n=$(cat "$FLOE_INPUTS/n"); v=$(cat "$FLOE_INPUTS/start")
      {
        echo "kind: workflow"
        echo "name: chain_of_$n"
        echo "outputs: {total: {node: s$n, output: sum}}"
        echo "nodes:"
        echo "  - {id: s1, task: add, inputs: {a: $v, b: 1}}"
        i=2
        while [ $i -le "$n" ]; do
          echo "  - {id: s$i, task: add, inputs: {a: {node: s$((i - 1)), output: sum}, b: 1}}"
          i=$((i + 1))
        done
      } > "$FLOE_OUTPUTS/workflow"
---
kind: task
name: broken
dynamic: true
outputs: {total: integer}
container:
  command: [/bin/sh, -c, 'printf "kind: workflow\nname: bad\noutputs: {total: {node: s, output: sum}}\nnodes:\n  - {id: s, task: nosuch}\n" > "$FLOE_OUTPUTS/workflow"']
---
kind: task
name: recurse
dynamic: true
outputs: {total: integer}
container:
  command: [/bin/sh, -c, 'printf "kind: workflow\nname: deeper\noutputs: {total: {node: r, output: total}}\nnodes: [{id: r, task: recurse}]\n" > "$FLOE_OUTPUTS/workflow"']
---
kind: workflow
name: dyn
inputs: {n: integer}
outputs: {t: {node: plus, output: sum}}
nodes:
  - {id: gen, task: chain, inputs: {n: {input: n}, start: 10}}
  - {id: plus, task: add, inputs: {a: {node: gen, output: total}, b: 1000}}
---
kind: workflow
name: dyn_broken
nodes: [{id: gen, task: broken}]
---
kind: workflow
name: dyn_forever
nodes: [{id: gen, task: recurse}]
YAML
expect 0 "$ctl" register -f "$work/dyn.yaml"
expect 0 "$ctl" launch dyn --input n=5 --wait --wait-timeout 90s -o json
json '.phase == "SUCCEEDED" and .outputs.t == 1015'
json '(.children | length) == 1 and .children[0].node == "gen" and .children[0].phase == "SUCCEEDED"'
kid=$(jq -r '.children[0].id' "$work/out")
expect 0 "$ctl" get execution "$kid" -o json
json '.workflow.name == "chain_of_5" and .outputs.total == 15'
expect 0 "$ctl" get nodes "$kid" -o json
json '(.items | length) == 5'

expect 4 "$ctl" launch dyn_broken --wait --wait-timeout 60s -o json
bid=$(jq -r .id "$work/out")
expect 0 "$ctl" get nodes "$bid" -o json
json '.items[0].phase == "FAILED" and .items[0].error.kind == "USER" and .items[0].error.code == "dynamic_invalid" and (.items[0].error.message | test("workflow:5: .*unknown task \"nosuch\""))'

expect 4 "$ctl" launch dyn_forever --wait --wait-timeout 120s -o json
json '.phase == "FAILED" and (.error | test("child execution"))'
# The chain of children stops at spec.max_depth (8 below the top): the deepest fails too_deep.
deep=$(jq -r .id "$work/out") depth=0
while :; do
    expect 0 "$ctl" get execution "$deep" -o json
    next=$(jq -r '.children[0].id // empty' "$work/out")
    [ -n "$next" ] || break
    deep=$next depth=$((depth + 1))
    [ $depth -le 20 ] || fail "more than 20 nested children"
done
[ $depth = 8 ] || fail "children nest $depth deep, want 8 below the top (spec.max_depth)"
expect 0 "$ctl" get nodes "$deep" -o json
json '.items[0].error.code == "too_deep"'

kill $pid $wpid
wait $pid || fail "floe-scheduler exited with $? on SIGTERM"
wait $wpid || fail "floe-worker exited with $? on SIGTERM"
pid= wpid=
echo "PASS: sub-workflows, launch-plan nodes and dynamic workflows"
