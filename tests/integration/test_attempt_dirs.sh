#!/usr/bin/env bash
# Attempt directories reused (issue 25, worker/wrk_dirs.c) and process tasks contained.
# A task that litters its directory (files and directories in it, in tmp/ and outputs/,
# a directory it took every permission from, symlinks out of it), writes to stdout and
# stderr and leaves a process behind in a session of its own (setsid): where the worker
# has cgroups, that process is gone once the task ended and the next attempt of the
# worker gets the same directory, as new (only inputs/, outputs/, tmp/ empty, inputs.json,
# empty stdout and stderr), with the first task's logs stored and what its symlinks named
# untouched. A task that turns tmp/ into a symlink out and stderr into a hard link to a
# file out: its directory is not reused and neither target is touched. Without cgroups: new directories, and the test says
# so.
# usage: test_attempt_dirs.sh FLOECTL FLOE-SCHEDULER FLOE-WORKER   (settings from ops/stack env)
set -uo pipefail
ctl=$1 sched=$2 worker=$3
export FLOE_API_URL=http://127.0.0.1:18785
export FLOE_PROJECT=dirs-$$-$RANDOM
. "$(dirname "$0")/cli_lib.sh"

pid= wpid= left=
trap 'kill $pid $wpid $left 2>/dev/null; wait $pid $wpid 2>/dev/null; rm -rf "$log" "$wlog" "$work"' EXIT
sched_start
# One at a time: the second task runs in what the first one left, if anything.
FLOE_WORKER_HTTP=127.0.0.1:18796 FLOE_WORKER_CONCURRENCY=1 "$worker" --class default >>"$wlog" 2>&1 &
wpid=$!
mkdir -p "$work/victim/sub"
echo keep >"$work/victim/file"
echo keep >"$work/victim/sub/file"
echo keep >"$work/victim/hard"
export VICTIM=$work/victim

cat >"$work/dirs.yaml" <<'YAML'
kind: task
name: litter
inputs: {victim: string}
outputs: {pid: string, cwd: string}
container:
  command:
    - /bin/sh
    - -c
    - |
      printf %s "$PWD" > "$FLOE_OUTPUTS/cwd"
      setsid sleep 600 </dev/null >/dev/null 2>&1 &
      printf %s $! > "$FLOE_OUTPUTS/pid"
      echo litter-out; echo litter-err >&2
      v=$(cat "$FLOE_INPUTS/victim")
      mkdir -p junk/deep tmp/t/u outputs/o
      touch junk/deep/f tmp/x tmp/t/u/y outputs/z inputs/extra
      ln -s "$v" tmp/out; ln -s "$v/file" outputs/vf; ln -s "$v" here
      chmod 000 junk/deep junk
      chmod 700 tmp
---
kind: task
name: look
inputs: {after: string}
outputs: {seen: string, cwd: string, alive: string}
container:
  command:
    - /bin/sh
    - -c
    - |
      seen="$(ls -A | tr '\n' ' ')|$(ls -A tmp)|$(ls -A outputs)|$(ls -A inputs | tr '\n' ' ')"
      seen="$seen|$(wc -c < stdout)|$(wc -c < stderr)|$(stat -c %a tmp outputs | tr '\n' ' ')"
      printf %s "$seen" > "$FLOE_OUTPUTS/seen"
      printf %s "$PWD" > "$FLOE_OUTPUTS/cwd"
      # killed is enough: a zombie waiting for init to reap it counts as gone
      s=$(cut -d' ' -f3 "/proc/$(cat "$FLOE_INPUTS/after")/stat" 2>/dev/null)
      if [ -n "$s" ] && [ "$s" != Z ]; then a="yes ($s)"; else a=no; fi
      printf %s $a > "$FLOE_OUTPUTS/alive"
---
kind: task
name: swap
inputs: {victim: string, how: string}
outputs: {cwd: string}
container:
  command:
    - /bin/sh
    - -c
    - |
      printf %s "$PWD" > "$FLOE_OUTPUTS/cwd"
      v=$(cat "$FLOE_INPUTS/victim")
      case $(cat "$FLOE_INPUTS/how") in
      symlink) rm -rf tmp && ln -s "$v" tmp ;;
      hardlink) rm -f stderr && ln "$v/hard" stderr ;;
      esac
---
kind: workflow
name: litter_then_look
inputs: {victim: string}
outputs:
  pid: {node: litter, output: pid}
  first: {node: litter, output: cwd}
  second: {node: look, output: cwd}
  seen: {node: look, output: seen}
  alive: {node: look, output: alive}
nodes:
  - {id: litter, task: litter, inputs: {victim: {input: victim}}}
  - {id: look, task: look, inputs: {after: {node: litter, output: pid}}}
---
kind: workflow
name: swap_then_look
inputs: {victim: string, how: string}
outputs:
  first: {node: swap, output: cwd}
  second: {node: look, output: cwd}
  seen: {node: look, output: seen}
nodes:
  - {id: swap, task: swap, inputs: {victim: {input: victim}, how: {input: how}}}
  - {id: look, task: look, inputs: {after: {node: swap, output: cwd}}}
YAML
expect 0 "$ctl" register -f "$work/dirs.yaml"

expect 0 "$ctl" launch litter_then_look --input "victim=$VICTIM" --wait --wait-timeout 60s -o json
json '.phase == "SUCCEEDED"'
cp "$work/out" "$work/first.json"
left=$(jq -r .outputs.pid "$work/first.json")
id=$(jq -r .id "$work/first.json")
new="inputs inputs.json outputs stderr stdout tmp |||after |0|0|1777 1777 "
seen=$(jq -r .outputs.seen "$work/first.json")
[ "$seen" = "$new" ] || fail "the second task's directory held \"$seen\", want \"$new\""
[ "$(cat "$work/victim/file" "$work/victim/sub/file")" = "keep
keep" ] || fail "what the task's symlinks named was changed: $(ls -laR "$work/victim")"
expect 0 "$ctl" logs "$id/litter"
grep -q litter-out "$work/out" || fail "the first task's stdout was not kept: $(cat "$work/out")"
expect 0 "$ctl" logs "$id/litter" --stderr
grep -q litter-err "$work/out" || fail "the first task's stderr was not kept: $(cat "$work/out")"

if grep -q "cgroup limits unavailable" "$wlog"; then
    echo "SKIP: no cgroups for this worker: the process left behind and reuse are not checked"
    exit 0
fi
alive=$(jq -r .outputs.alive "$work/first.json")
[ "$alive" = no ] || fail "the process the first task left in its own session ($left) still ran"
[ "$(jq -r '.outputs.first == .outputs.second' "$work/first.json")" = true ] ||
    fail "the second task did not get the first one's directory: $(jq -c .outputs "$work/first.json")"
reused=$(curl -sf http://127.0.0.1:18796/metrics | awk '$1 == "floe_worker_attempt_dirs_reused_total" {print $2}')
[ "${reused:-0}" -ge 1 ] 2>/dev/null || fail "floe_worker_attempt_dirs_reused_total is \"$reused\""

# A directory the worker cannot vouch for is not reused, and no link is followed.
for how in symlink hardlink; do
    expect 0 "$ctl" launch swap_then_look --input "victim=$VICTIM" --input "how=$how" \
        --wait --wait-timeout 60s -o json
    json '.phase == "SUCCEEDED"'
    [ "$(jq -r '.outputs.first != .outputs.second' "$work/out")" = true ] ||
        fail "after a $how, the directory was reused: $(jq -c .outputs "$work/out")"
    seen=$(jq -r .outputs.seen "$work/out")
    [ "$seen" = "$new" ] || fail "the task after a $how saw \"$seen\", want \"$new\""
    [ "$(cat "$work/victim/file" "$work/victim/sub/file" "$work/victim/hard")" = "keep
keep
keep" ] || fail "after a $how, the victim directory was changed: $(ls -laR "$work/victim")"
done
echo "ok: attempt directories reused as new, tasks contained"
