#!/usr/bin/env bash
# A task's secrets (issue 19): a worker with a secrets directory hands a task its secrets
# as a variable and as a file; the task proves it saw the right value (its output is the
# value's SHA-256); the stored stdout and stderr show it masked; and the value is in no
# full dump of Kafka's topics, Redis, PostgreSQL, the blob store or the daemons' logs.
# A worker without the secret fails the attempt as SYSTEM, naming the secret.
# usage: test_secrets.sh FLOECTL FLOE-SCHEDULER FLOE-WORKER   (settings from ops/stack env)
set -uo pipefail
ctl=$1 sched=$2 worker=$3
export FLOE_API_URL=http://127.0.0.1:18790 FLOE_PROJECT=sec-$$-$RANDOM
dir=$(mktemp -d)
spid= wpid=
fail() {
    echo "FAIL: $*"
    for f in "$dir"/*.log; do echo "--- $f"; tail -20 "$f"; done
    exit 1
}
trap 'kill $wpid $spid 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT

secret="s3cr3t-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
mkdir -m 700 "$dir/provider" "$dir/empty"
printf '%s\n' "$secret" >"$dir/provider/db_password"
printf 'KEY-%s' "$secret" >"$dir/provider/tls.key"

"$sched" >"$dir/scheduler.log" 2>&1 &
spid=$!
for _ in $(seq 1 300); do
    "$ctl" list tasks >/dev/null 2>&1 && break
    kill -0 $spid 2>/dev/null || fail "floe-scheduler exited"
    sleep 0.1
done
start_worker() { # start_worker PROVIDER
    FLOE_WORKER_SECRETS_DIR=$1 FLOE_WORKER_HTTP=127.0.0.1:18780 FLOE_WORKER_GRACE=1s \
        FLOE_WORKER_LOG_SHIP_EVERY=200ms "$worker" --class default >>"$dir/worker.log" 2>&1 &
    wpid=$!
    for _ in $(seq 1 300); do
        curl -sf http://127.0.0.1:18780/healthz >/dev/null 2>&1 && return 0
        kill -0 $wpid 2>/dev/null || fail "floe-worker exited"
        sleep 0.1
    done
    fail "the worker did not become healthy"
}
stop_worker() { kill $wpid; wait $wpid || fail "floe-worker exited with $? on SIGTERM"; wpid=; }

cat >"$dir/spec.yaml" <<'YAML'
kind: task
name: uses_secret
secrets:
  - {name: db_password, env: DB_PASSWORD}
  - {name: tls.key, file: key.pem}
container:
  command:
    - /bin/sh
    - -c
    - |
      echo "connecting with $DB_PASSWORD"
      echo "key: $(cat "$FLOE_SECRETS/key.pem")" >&2
      printf %s "$DB_PASSWORD" | sha256sum | cut -c1-64 > "$FLOE_OUTPUTS/digest"
outputs: {digest: string}
---
kind: workflow
name: with_secret
outputs: {digest: {from: {node: a, output: digest}}}
nodes:
  - {id: a, task: uses_secret}
YAML
"$ctl" register -f "$dir/spec.yaml" >/dev/null 2>"$dir/err" || fail "register: $(cat "$dir/err")"
# A secret reference that could leave the provider's directory is refused at registration.
sed 's/name: db_password,/name: ..\/etc\/passwd,/' "$dir/spec.yaml" >"$dir/bad.yaml"
"$ctl" register -f "$dir/bad.yaml" >/dev/null 2>"$dir/err" && fail "registered a secret named ../etc/passwd"
grep -q 'secret name' "$dir/err" || fail "no reason: $(cat "$dir/err")"

start_worker "$dir/provider"
id=$("$ctl" launch with_secret --wait -q 2>"$dir/err") || fail "launch: $(cat "$dir/err")"
want=$(printf %s "$secret" | sha256sum | cut -c1-64)
got=$("$ctl" get execution "$id" -o 'jsonpath={.outputs.digest}')
[ "$got" = "$want" ] || fail "the task did not see the secret's value: digest $got, want $want"
"$ctl" logs "$id/a" >"$dir/stdout" 2>&1 || fail "logs: $(cat "$dir/stdout")"
"$ctl" logs "$id/a" --stderr >"$dir/stderr" 2>&1 || fail "logs --stderr: $(cat "$dir/stderr")"
grep -q '^connecting with \*\*\*\*\*\*\*\*\*\*\*\*\*\*\*\*\*\*\*\*\*\*\*\*\*\*\*\*\*\*\*$' "$dir/stdout" ||
    fail "stdout not masked as expected: $(cat "$dir/stdout")"
grep -q '^key: \*\{35\}$' "$dir/stderr" || fail "stderr not masked: $(cat "$dir/stderr")"
stop_worker

# A worker without the secret: SYSTEM error naming it, and retried elsewhere (here: failed
# once the budget is spent), never a value in the message.
start_worker "$dir/empty"
id2=$("$ctl" launch with_secret -q 2>"$dir/err") || fail "launch: $(cat "$dir/err")"
for _ in $(seq 1 600); do
    "$ctl" get nodes "$id2" -o json >"$dir/nodes" 2>/dev/null
    grep -q '"secret db_password: not in this worker' "$dir/nodes" && break
    sleep 0.1
done
grep -q '"secret db_password: not in this worker' "$dir/nodes" || fail "no secret error: $(cat "$dir/nodes")"
grep -q '"SYSTEM"' "$dir/nodes" || fail "not a SYSTEM error: $(cat "$dir/nodes")"
"$ctl" terminate "$id2" >/dev/null 2>&1
stop_worker

# Full dumps: the value is nowhere.
# (tests/with-stack exported the stack's settings: FLOE_STATE_DIR, the urls)
found() { echo "FAIL: the secret's value is in $1"; exit 1; }
pg_dump "$FLOE_POSTGRES_URL" 2>/dev/null | grep -qF "$secret" && found "PostgreSQL"
rdir=$(redis-cli -u "$FLOE_REDIS_URL" --raw CONFIG GET dir | tail -1)
rfile=$(redis-cli -u "$FLOE_REDIS_URL" --raw CONFIG GET dbfilename | tail -1)
comp=$(redis-cli -u "$FLOE_REDIS_URL" --raw CONFIG GET rdbcompression | tail -1)
redis-cli -u "$FLOE_REDIS_URL" CONFIG SET rdbcompression no >/dev/null
redis-cli -u "$FLOE_REDIS_URL" SAVE >/dev/null || fail "redis SAVE"
redis-cli -u "$FLOE_REDIS_URL" CONFIG SET rdbcompression "$comp" >/dev/null
grep -qF "$secret" "$rdir/$rfile" && found "Redis (a full RDB dump)"
grep -rqF "$secret" "$FLOE_STATE_DIR/kafka" && found "Kafka's topics (the broker's log segments)"
for store in "$FLOE_STATE_DIR/blobs" "$FLOE_STATE_DIR/s3"; do
    [ -d "$store" ] && grep -rqF "$secret" "$store" && found "the blob store ($store)"
done
grep -qF "$secret" "$dir"/*.log && found "the daemons' logs"
[ -d "$FLOE_STATE_DIR/log" ] && grep -rqF "$secret" "$FLOE_STATE_DIR/log" && found "the stack's logs"
echo "ok: secrets"
