#!/usr/bin/env bash
# floectl admin init against the local stack's Kafka 0.9, which has no CreateTopics API:
# --check passes on the stack's topics and fails for a prefix with none; --dry-run plans;
# init prints kafka-topics.sh commands that, run as printed with the stack's Kafka tools,
# make --check pass; asking more partitions than a topic has is reported.
# usage: test_admin.sh FLOECTL   (settings from ops/stack env)
set -uo pipefail
ctl=$1
top=$(cd "$(dirname "$0")/../.." && pwd)
kt=$top/.cache/kafka/bin/kafka-topics.sh
prefix=adm$$
dir=$(mktemp -d)
export LOG_DIR=$dir/kafka-logs
fail() { echo "FAIL: $*"; exit 1; }
cleanup() {
    for t in events tasks.default egress dlq smoke; do
        "$kt" --zookeeper "$FLOE_ZOOKEEPER" --delete --topic "$prefix.$t" >/dev/null 2>&1
    done
    rm -rf "$dir"
}
trap cleanup EXIT
[ -x "$kt" ] || fail "no $kt (ops/setup installs Kafka)"

"$ctl" admin init --check -o json >"$dir/out" 2>"$dir/err" || fail "--check on the stack: $(cat "$dir/err" "$dir/out")"
jq -e --arg t "$FLOE_TOPIC_PREFIX.tasks.default" \
    '[.items[] | select(.status != "ok")] == [] and any(.items[]; .topic == $t and .partitions == 8)' \
    "$dir/out" >/dev/null || fail "--check on the stack: $(cat "$dir/out")"

export FLOE_TOPIC_PREFIX=$prefix FLOE_RESOURCE_CLASSES=default
"$ctl" admin init --check -o json >"$dir/out" 2>&1 && fail "--check passed with no topics"
jq -e '[.items[].status] == ["missing","missing","missing","missing","missing"]' "$dir/out" >/dev/null ||
    fail "--check for a new prefix: $(cat "$dir/out")"
"$ctl" admin init --dry-run -o json >"$dir/out" 2>&1 || fail "--dry-run: $(cat "$dir/out")"
jq -e '[.items[].status] | all(. == "to create")' "$dir/out" >/dev/null || fail "--dry-run: $(cat "$dir/out")"
"$ctl" admin init --min-insync 4 >/dev/null 2>"$dir/err" && fail "min.insync above the replication factor accepted"
grep -q "above the replication factor" "$dir/err" || fail "min-insync: $(cat "$dir/err")"

# Kafka 0.9: the commands to run, then run them.
"$ctl" admin init --replication-factor 1 --min-insync 1 --retention 2d >"$dir/cmds" 2>"$dir/err" &&
    fail "init on Kafka 0.9 said it created the topics"
grep -q "no CreateTopics API" "$dir/err" || fail "init did not say why: $(cat "$dir/err")"
[ "$(grep -c '^kafka-topics.sh --zookeeper ' "$dir/cmds")" = 5 ] || fail "commands: $(cat "$dir/cmds")"
grep -q -- "--topic $prefix.tasks.default --partitions 8 --replication-factor 1 --config min.insync.replicas=1 --config retention.ms=172800000 --config unclean.leader.election.enable=false" \
    "$dir/cmds" || fail "the tasks topic's command: $(cat "$dir/cmds")"
sed "s|^kafka-topics.sh |\"$kt\" |" "$dir/cmds" >"$dir/run.sh"
bash -e "$dir/run.sh" >"$dir/run.log" 2>&1 || fail "the printed commands failed: $(tail -5 "$dir/run.log")"
for _ in $(seq 1 100); do
    "$ctl" admin init --check -o json >"$dir/out" 2>&1 && break
    sleep 0.2
done
"$ctl" admin init --check -o json >"$dir/out" 2>&1 || fail "--check after the commands: $(cat "$dir/out")"
"$ctl" admin init --check --tasks-partitions 16 -o json >"$dir/out" 2>&1 && fail "16 partitions asked, 8 there: passed"
jq -e --arg t "$prefix.tasks.default" 'any(.items[]; .topic == $t and .status == "fewer partitions")' \
    "$dir/out" >/dev/null || fail "the shortfall: $(cat "$dir/out")"
echo "ok: admin init"
