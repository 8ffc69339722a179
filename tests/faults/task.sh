#!/bin/sh
# A task of the fault suite. It records every run in a ledger that the faults never touch
# (a directory given as the input "ledger"), so the checker judges Floe from outside:
#   start KEY ATTEMPT PID TIME     the run began
#   effect KEY ATTEMPT PID TIME    it applied its effect (once per KEY: see below)
#   done KEY ATTEMPT PID TIME      it finished and wrote its output
# KEY is execution.node. The effect is made idempotent the way real tasks do it, by
# checking a marker first: a run that finds the marker skips the effect. Two runs of one
# node at the same time both pass the check and both apply it: a double effect, which
# only concurrent runs of one node (a broken claim or lease) can cause.
set -eu
L=$(cat "$FLOE_INPUTS/ledger")
K="$FLOE_EXECUTION_ID.$FLOE_NODE_ID"
now() { date +%s%N; }
echo "start $K $FLOE_ATTEMPT $$ $(now)" >>"$L/runs"
sleep 0.2
if [ ! -e "$L/effects/$K" ]; then
    sleep 0.05
    : >"$L/effects/$K"
    echo "effect $K $FLOE_ATTEMPT $$ $(now)" >>"$L/runs"
fi
echo 1 >"$FLOE_OUTPUTS/out"
echo "note of $K attempt $FLOE_ATTEMPT" >"$FLOE_OUTPUTS/note"   # a blob: the blob store is used
echo "done $K $FLOE_ATTEMPT $$ $(now)" >>"$L/runs"
