#!/usr/bin/env bash
# The API over TLS (issue 19): a floe-scheduler serving https with a certificate of a CA
# made here; floectl (its evhttp client and its libcurl transfers) works with the CA and a
# token, and refuses a server it cannot verify; plain HTTP to the TLS port gets nothing;
# TLS 1.1 is refused; a key readable by everyone, a key of another certificate and an
# https url without a certificate stop the scheduler with what is wrong. PostgreSQL
# (sslmode=verify-full) and Kafka's TLS listener against the stack's CA.
# usage: test_tls.sh FLOECTL FLOE-SCHEDULER   (settings from ops/stack env)
set -uo pipefail
ctl=$1 sched=$2
port=18783
dir=$(mktemp -d)
log=$dir/scheduler.log
pid=
fail() { echo "FAIL: $*"; echo "--- scheduler log"; cat "$log" 2>/dev/null; exit 1; }
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT

# A CA, and a certificate it signed for 127.0.0.1 and localhost.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=floe-test-ca -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null || fail "CA"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=floe-api \
    -keyout "$dir/api.key" -out "$dir/api.csr" 2>/dev/null || fail "CSR"
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$dir/ext"
openssl x509 -req -in "$dir/api.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
    -days 2 -extfile "$dir/ext" -out "$dir/api.pem" 2>/dev/null || fail "certificate"
chmod 600 "$dir/api.key"
# Another CA's certificate, for the server a client must refuse.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=other -keyout "$dir/other.key" -out "$dir/other.pem" 2>/dev/null || fail "other"

export FLOE_API_URL=https://127.0.0.1:$port FLOE_PROJECT=tls-$$
start() { # start CERT KEY: a scheduler on the TLS port, waited for
    FLOE_API_TLS_CERT=$1 FLOE_API_TLS_KEY=$2 "$sched" >"$log" 2>&1 &
    pid=$!
    for _ in $(seq 1 300); do
        curl -sf --cacert "$dir/ca.pem" "$FLOE_API_URL/healthz" >/dev/null 2>&1 && return 0
        curl -skf "$FLOE_API_URL/healthz" >/dev/null 2>&1 && return 0
        kill -0 $pid 2>/dev/null || fail "floe-scheduler exited: $(tail -3 "$log")"
        sleep 0.1
    done
    fail "no answer on $FLOE_API_URL within 30 s"
}
stop() { kill $pid 2>/dev/null; wait $pid 2>/dev/null; pid=; }
refuses_to_start() { # refuses_to_start WHY ENV...: the scheduler exits non-zero, saying WHY
    local why=$1; shift
    env "$@" timeout 30 "$sched" >"$log" 2>&1 && fail "started with $*"
    grep -q "$why" "$log" || fail "did not say \"$why\": $(tail -3 "$log")"
}

start "$dir/api.pem" "$dir/api.key"
# floectl with the CA and the stack's token.
FLOE_CA_FILE=$dir/ca.pem "$ctl" whoami >"$dir/out" 2>&1 || fail "whoami over TLS: $(cat "$dir/out")"
grep -q 'token:bootstrap' "$dir/out" || fail "whoami: $(cat "$dir/out")"
# Its libcurl transfers too: a blob up and down through the API.
head -c 100000 /dev/urandom >"$dir/blob"
uri=$(FLOE_CA_FILE=$dir/ca.pem "$ctl" blob put "$dir/blob" -o name 2>"$dir/err") ||
    fail "blob put over TLS: $(cat "$dir/err")"
FLOE_CA_FILE=$dir/ca.pem "$ctl" blob get "$uri" "$dir/back" 2>"$dir/err" ||
    fail "blob get over TLS: $(cat "$dir/err")"
cmp -s "$dir/blob" "$dir/back" || fail "the blob came back different"
# Without the CA (the system's does not know it), or trusting another CA: refused.
"$ctl" whoami >"$dir/out" 2>&1 && fail "whoami trusted an unknown CA"
grep -q 'certificate verify failed' "$dir/out" || fail "no reason given: $(cat "$dir/out")"
FLOE_CA_FILE=$dir/other.pem "$ctl" whoami >/dev/null 2>&1 && fail "whoami trusted another CA"
# The name is checked: the certificate is not for 127.0.0.2.
curl -s --cacert "$dir/ca.pem" --resolve "wrong.example:$port:127.0.0.1" \
    "https://wrong.example:$port/healthz" >/dev/null 2>&1 && fail "a name the certificate lacks passed"
# Plain HTTP to the TLS port gets no HTTP answer; TLS 1.1 is refused.
code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 "http://127.0.0.1:$port/healthz")
[ "$code" = 000 ] || fail "plain HTTP answered $code"
openssl s_client -connect 127.0.0.1:$port -tls1_1 </dev/null >/dev/null 2>&1 &&
    fail "TLS 1.1 was accepted"
openssl s_client -connect 127.0.0.1:$port -tls1_2 -CAfile "$dir/ca.pem" </dev/null 2>&1 |
    grep -q 'Verify return code: 0' || fail "TLS 1.2 with the CA did not verify"
stop

refuses_to_start "readable by every user" FLOE_API_TLS_CERT="$dir/api.pem" \
    FLOE_API_TLS_KEY="$(cp "$dir/api.key" "$dir/open.key"; chmod 644 "$dir/open.key"; echo "$dir/open.key")"
refuses_to_start "is not the key of api.tls_cert" FLOE_API_TLS_CERT="$dir/api.pem" \
    FLOE_API_TLS_KEY="$dir/other.key"
refuses_to_start "set api.tls_cert and api.tls_key" FLOE_API_TLS_CERT= FLOE_API_TLS_KEY=
refuses_to_start "must be https" FLOE_API_URL=http://127.0.0.1:$port \
    FLOE_API_TLS_CERT="$dir/api.pem" FLOE_API_TLS_KEY="$dir/api.key"
# PostgreSQL with sslmode=verify-full against the stack's CA (ops/stack): every connection
# of a running scheduler is TLS; trusting another CA, or naming a host the server's
# certificate does not, keeps it waiting for PostgreSQL with libpq's reason.
case $FLOE_POSTGRES_URL in
    *sslmode=verify-full*) ;;
    *) fail "the stack's postgres.url does not verify the server: $FLOE_POSTGRES_URL" ;;
esac
start "$dir/api.pem" "$dir/api.key"
FLOE_CA_FILE=$dir/ca.pem "$ctl" list executions >/dev/null 2>"$dir/err" ||
    fail "a call reading PostgreSQL: $(cat "$dir/err")"
read -r tls plain < <(psql "$FLOE_POSTGRES_URL" -AtF' ' -c "select count(*) filter (where s.ssl),
    count(*) filter (where not s.ssl) from pg_stat_activity a join pg_stat_ssl s using (pid)
    where a.application_name like 'floe-scheduler%'")
[ "${tls:-0}" -gt 0 ] && [ "${plain:-1}" = 0 ] ||
    fail "the scheduler's PostgreSQL connections: $tls over TLS, $plain in the clear"
stop
pg_refused() { # pg_refused WHY URL: the scheduler waits for PostgreSQL, saying WHY
    FLOE_API_TLS_CERT= FLOE_API_TLS_KEY= FLOE_API_URL=http://127.0.0.1:$port \
        FLOE_POSTGRES_URL=$2 "$sched" >"$log" 2>&1 &
    pid=$!
    for _ in $(seq 1 300); do
        grep -q "$1" "$log" && { stop; return 0; }
        kill -0 $pid 2>/dev/null || fail "floe-scheduler exited: $(tail -3 "$log")"
        sleep 0.1
    done
    fail "no \"$1\" within 30 s: $(tail -3 "$log")"
}
base=${FLOE_POSTGRES_URL%%\?*}
pg_refused "certificate verify failed" "$base?sslmode=verify-full&sslrootcert=$dir/other.pem"
hostport=${base#*@}
hostport=${hostport%%/*}
pg_refused "does not match host name" \
    "postgresql://floe@wrong.example:${hostport##*:}/floe?hostaddr=${hostport%:*}&sslmode=verify-full&sslrootcert=${FLOE_POSTGRES_URL##*sslrootcert=}"
# Kafka through the stack's TLS listener (ops/stack): floectl smoke's producer and
# consumer group round-trip messages with the broker checked against the stack's CA; with
# another CA the handshake fails and says so.
[ -n "${FLOE_STACK_KAFKA_SSL_BROKERS:-}" ] || fail "the stack has no Kafka TLS listener"
ssl="$FLOE_KAFKA_PROPERTIES,security.protocol=ssl,ssl.endpoint.identification.algorithm=https"
FLOE_KAFKA_BROKERS=$FLOE_STACK_KAFKA_SSL_BROKERS \
    FLOE_KAFKA_PROPERTIES="$ssl,ssl.ca.location=$FLOE_STACK_CA" \
    timeout 120 "$ctl" smoke >"$dir/smoke" 2>"$dir/err" || fail "smoke over Kafka TLS: $(tail -3 "$dir/err")"
grep -q '"ok":true' "$dir/smoke" || fail "smoke over Kafka TLS: $(cat "$dir/smoke")"
FLOE_KAFKA_BROKERS=$FLOE_STACK_KAFKA_SSL_BROKERS \
    FLOE_KAFKA_PROPERTIES="$ssl,ssl.ca.location=$dir/other.pem" "$ctl" smoke >"$log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do
    grep -q "certificate verify failed" "$log" && break
    kill -0 $pid 2>/dev/null || fail "smoke trusting another CA ended without saying why: $(tail -3 "$log")"
    sleep 0.1
done
grep -q "certificate verify failed" "$log" || fail "smoke trusting another CA: $(tail -3 "$log")"
stop
echo "ok: TLS"
