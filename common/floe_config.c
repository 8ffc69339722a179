/*
 * The settings table and its loader. To add a setting: a field in floe_config, a row in
 * config_table. Parsing and bounds are the table's job; programs never read FLOE_*
 * variables themselves.
 */
#include "floe_config.h"

#include "floe_mem.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum cfg_type {
    CFG_STRING = 1,
    CFG_INT = 2,
    CFG_DURATION = 3, /* milliseconds; "250ms", "5s", "2m", "1h", "7d"; bare numbers are ms */
    CFG_SIZE = 4,     /* bytes; "512KiB", "1MiB"; bare numbers are bytes */
    CFG_ENUM = 5,     /* stored as int, index into values */
} cfg_type;

#define CFG_SECRET 0x1u /* never printed */
#define CFG_URL 0x2u    /* printed with any password redacted */
#define CFG_KV 0x4u     /* k=v list printed with the values of secret-looking keys redacted */

typedef bool (*cfg_check_fn)(const char *value, char *why, size_t why_size);

typedef struct cfg_entry {
    const char *key;
    cfg_type type;
    size_t offset;
    const char *def;
    int64_t min, max; /* CFG_INT/DURATION/SIZE bounds; CFG_STRING max length */
    const char *env;
    unsigned flags;
    const char *const *values; /* CFG_ENUM: NULL-terminated */
    cfg_check_fn check;        /* optional extra validation of strings */
    const char *help;
} cfg_entry;

static bool check_name_list(const char *value, char *why, size_t why_size);
static bool check_topic_prefix(const char *value, char *why, size_t why_size);
static bool check_kv_list(const char *value, char *why, size_t why_size);
static bool check_http_url(const char *value, char *why, size_t why_size);

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const log_formats[] = {"logfmt", "json", NULL};
static const char *const on_off[] = {"off", "on", NULL};

#define OFF(f) offsetof(floe_config, f)

static const cfg_entry config_table[] = {
    {"log.level", CFG_ENUM, OFF(log_level), "info", 0, 0, "FLOE_LOG_LEVEL", 0, log_levels, NULL,
     "least severe level written"},
    {"log.format", CFG_ENUM, OFF(log_format), "logfmt", 0, 0, "FLOE_LOG_FORMAT", 0, log_formats,
     NULL, "log line format"},
    {"kafka.brokers", CFG_STRING, OFF(kafka_brokers), "127.0.0.1:9092", 1, 1024,
     "FLOE_KAFKA_BROKERS", 0, NULL, NULL, "bootstrap brokers, host:port[,host:port]"},
    {"kafka.properties", CFG_STRING, OFF(kafka_properties), "", 0, 4096, "FLOE_KAFKA_PROPERTIES",
     CFG_KV, NULL, check_kv_list,
     "extra librdkafka properties, k=v[,k=v] (Kafka 0.9: api.version.request=false,"
     "broker.version.fallback=0.9.0.1)"},
    {"topic.prefix", CFG_STRING, OFF(topic_prefix), "floe", 1, 32, "FLOE_TOPIC_PREFIX", 0, NULL,
     check_topic_prefix, "prefix of every topic name: <prefix>.events, <prefix>.tasks.<class>"},
    {"resource.classes", CFG_STRING, OFF(resource_classes), "default,large,gpu", 1, 1024,
     "FLOE_RESOURCE_CLASSES", 0, NULL, check_name_list,
     "resource classes, one task topic each, comma-separated"},
    {"kafka.session_timeout", CFG_DURATION, OFF(kafka_session_timeout_ms), "10s", 1000, 300000,
     "FLOE_KAFKA_SESSION_TIMEOUT", 0, NULL, NULL,
     "consumer group session timeout (Kafka 0.9 brokers accept 6s to 30s)"},
    {"kafka.linger", CFG_DURATION, OFF(kafka_linger_ms), "0ms", 0, 1000, "FLOE_KAFKA_LINGER", 0,
     NULL, NULL, "producer batching delay; 0 favours latency"},
    {"bus.max_message_bytes", CFG_SIZE, OFF(bus_max_message_bytes), "1MiB", 1024, 16777216,
     "FLOE_BUS_MAX_MESSAGE_BYTES", 0, NULL, NULL,
     "largest bus message accepted or produced; larger ones are dead-lettered"},
    {"bus.max_inflight_bytes", CFG_SIZE, OFF(bus_max_inflight_bytes), "256MiB", 4096, 68719476736LL,
     "FLOE_BUS_MAX_INFLIGHT_BYTES", 0, NULL, NULL,
     "bytes of consumed messages not yet acknowledged; fetching pauses beyond it"},
    {"bus.batch_max", CFG_INT, OFF(bus_batch_max), "256", 1, 100000, "FLOE_BUS_BATCH_MAX", 0, NULL,
     NULL, "messages handled per event-loop turn before yielding"},
    {"redis.url", CFG_STRING, OFF(redis_url), "redis://127.0.0.1:6379", 1, 1024, "FLOE_REDIS_URL",
     CFG_URL, NULL, NULL, "Redis server, redis://[:password@]host:port[/db]"},
    {"postgres.url", CFG_STRING, OFF(postgres_url), "postgresql://floe@127.0.0.1:5432/floe", 1,
     1024, "FLOE_POSTGRES_URL", CFG_URL, NULL, NULL, "PostgreSQL connection URI or conninfo"},
    {"postgres.timeout", CFG_DURATION, OFF(postgres_timeout_ms), "30s", 100, 3600000,
     "FLOE_POSTGRES_TIMEOUT", 0, NULL, NULL,
     "longest statement or lock wait on a PostgreSQL connection (idle transactions end at "
     "twice it, at least 10s); the leader lease's connection uses a third of leader.lease"},
    {"api.url", CFG_STRING, OFF(api_url), "http://127.0.0.1:8780", 1, 1024, "FLOE_API_URL", 0, NULL,
     check_http_url, "HTTP API address: the scheduler listens here, floectl calls it"},
    {"blob.root", CFG_STRING, OFF(blob_root), "/var/lib/floe/blobs", 1, 1024, "FLOE_BLOB_ROOT", 0,
     NULL, NULL, "root directory of the local blob store"},
    {"registry.domains", CFG_STRING, OFF(domains), "development,staging,production", 1, 512,
     "FLOE_DOMAINS", 0, NULL, check_name_list, "the domains every project has, comma-separated"},
    {"api.threads", CFG_INT, OFF(api_threads), "4", 1, 64, "FLOE_API_THREADS", 0, NULL, NULL,
     "threads doing the API's database and compile work"},
    {"api.max_body_bytes", CFG_SIZE, OFF(api_max_body_bytes), "8MiB", 1024, 268435456,
     "FLOE_API_MAX_BODY_BYTES", 0, NULL, NULL, "largest HTTP request body accepted"},
    {"api.max_connections", CFG_INT, OFF(api_max_connections), "512", 1, 100000,
     "FLOE_API_MAX_CONNECTIONS", 0, NULL, NULL,
     "HTTP connections open at once; beyond it new ones wait in the listen backlog"},
    {"api.max_inflight", CFG_INT, OFF(api_max_inflight), "256", 1, 100000, "FLOE_API_MAX_INFLIGHT",
     0, NULL, NULL, "requests accepted and not yet answered; beyond it the API answers 503"},
    {"api.max_inflight_bytes", CFG_SIZE, OFF(api_max_inflight_bytes), "64MiB", 1024, 17179869184LL,
     "FLOE_API_MAX_INFLIGHT_BYTES", 0, NULL, NULL,
     "request bodies held at once; beyond it the API answers 503"},
    {"api.timeout", CFG_DURATION, OFF(api_timeout_ms), "60s", 100, 3600000, "FLOE_API_TIMEOUT", 0,
     NULL, NULL, "floectl: how long to wait for each API response"},
    {"spec.max_bytes", CFG_SIZE, OFF(spec_max_bytes), "4MiB", 1024, 268435456,
     "FLOE_SPEC_MAX_BYTES", 0, NULL, NULL, "largest YAML accepted in one registration"},
    {"spec.max_documents", CFG_INT, OFF(spec_max_documents), "256", 1, 10000,
     "FLOE_SPEC_MAX_DOCUMENTS", 0, NULL, NULL, "YAML documents in one registration"},
    {"spec.max_nesting", CFG_INT, OFF(spec_max_nesting), "64", 4, 1024, "FLOE_SPEC_MAX_NESTING", 0,
     NULL, NULL, "deepest YAML nesting accepted"},
    {"spec.max_nodes", CFG_INT, OFF(spec_max_nodes), "20000", 1, 1000000, "FLOE_SPEC_MAX_NODES", 0,
     NULL, NULL, "nodes in one workflow"},
    {"spec.max_depth", CFG_INT, OFF(spec_max_depth), "8", 1, 64, "FLOE_SPEC_MAX_DEPTH", 0, NULL,
     NULL, "sub-workflow nesting levels"},
    {"leader.lease", CFG_DURATION, OFF(leader_lease_ms), "5s", 1000, 600000, "FLOE_LEADER_LEASE", 0,
     NULL, NULL,
     "leader lease in PostgreSQL; renewed every third of it, a standby takes over within it"},
    {"engine.attempt_lease", CFG_DURATION, OFF(attempt_lease_ms), "10s", 500, 3600000,
     "FLOE_ATTEMPT_LEASE", 0, NULL, NULL,
     "a worker's claim on a running attempt; it heartbeats every third, else the attempt is "
     "retried"},
    {"catalog.reservation", CFG_DURATION, OFF(cache_reservation_ms), "1h", 1000, 604800000LL,
     "FLOE_CACHE_RESERVATION", 0, NULL, NULL,
     "identical cacheable work waits for the run under way at most this long (the run's node "
     "failing or its execution ending frees the waiters sooner)"},
    {"catalog.recheck", CFG_DURATION, OFF(cache_recheck_ms), "2s", 100, 600000,
     "FLOE_CACHE_RECHECK", 0, NULL, NULL,
     "how often work waiting for an identical run checks that the run is still alive (its "
     "success wakes the waiters at once)"},
    {"launchplan.tick", CFG_DURATION, OFF(lp_tick_ms), "1s", 100, 60000, "FLOE_LAUNCHPLAN_TICK", 0,
     NULL, NULL,
     "how often the leader evaluates schedules, launches pending firings and republishes what "
     "was not acknowledged; a catching-up schedule launches at most one firing per tick"},
    {"launchplan.grace", CFG_DURATION, OFF(lp_grace_ms), "30s", 1000, 86400000LL,
     "FLOE_LAUNCHPLAN_GRACE", 0, NULL, NULL,
     "a scheduled instant older than this when evaluated was missed (the scheduler was down) "
     "and its catch_up policy decides"},
    {"launchplan.batch", CFG_INT, OFF(lp_batch), "200", 1, 10000, "FLOE_LAUNCHPLAN_BATCH", 0, NULL,
     NULL, "firings launched per tick at most, over all launch plans"},
    {"launchplan.retention", CFG_DURATION, OFF(lp_retention_ms), "7d", 1000, 315360000000LL,
     "FLOE_LAUNCHPLAN_RETENTION", 0, NULL, NULL,
     "done firings, consumed trigger events and sent dataset events older than this are "
     "deleted (pending firings and events awaiting a partner dataset are kept); an event "
     "replayed after this long is no longer recognised as a duplicate"},
    {"launchplan.prune_every", CFG_DURATION, OFF(lp_prune_every_ms), "1m", 1000, 86400000LL,
     "FLOE_LAUNCHPLAN_PRUNE_EVERY", 0, NULL, NULL,
     "how often the leader runs that deletion (at most 1,000 rows of each table a run)"},
    {"engine.retention", CFG_DURATION, OFF(state_retention_ms), "1h", 1000, 2592000000LL,
     "FLOE_STATE_RETENTION", 0, NULL, NULL,
     "how long a finished execution's state stays in Redis once written to PostgreSQL"},
    {"engine.execution_timeout", CFG_DURATION, OFF(execution_timeout_ms), "0", 0, 2592000000LL,
     "FLOE_EXECUTION_TIMEOUT", 0, NULL, NULL,
     "an execution still running after this ends TIMED_OUT; 0 for no limit"},
    {"engine.claim_timeout", CFG_DURATION, OFF(claim_timeout_ms), "30m", 1000, 604800000LL,
     "FLOE_CLAIM_TIMEOUT", 0, NULL, NULL,
     "a dispatched attempt that no worker claims within this (a lost dispatch, no worker of "
     "its class running) fails as SYSTEM not_claimed and is retried within its budget"},
    {"engine.reconcile_every", CFG_DURATION, OFF(reconcile_every_ms), "30s", 0, 86400000LL,
     "FLOE_RECONCILE_EVERY", 0, NULL, NULL,
     "the leader looks this often for RUNNING executions (started at least this long ago) "
     "whose state Redis lost, and requests them again; 0: never"},
    {"engine.egress_nodes", CFG_ENUM, OFF(egress_nodes), "on", 0, 0, "FLOE_EGRESS_NODES", 0, on_off,
     NULL, "publish node phase changes to <prefix>.egress (execution changes always are)"},
    {"engine.threads", CFG_INT, OFF(engine_threads), "2", 1, 32, "FLOE_ENGINE_THREADS", 0, NULL,
     NULL, "threads (each with a PostgreSQL connection) for the engine's database work"},
    {"redis.timeout", CFG_DURATION, OFF(redis_timeout_ms), "5s", 100, 600000, "FLOE_REDIS_TIMEOUT",
     0, NULL, NULL, "a Redis request unanswered for this long drops the connection"},
    {"blob.max_bytes", CFG_SIZE, OFF(blob_max_bytes), "1GiB", 1024, 1099511627776LL,
     "FLOE_BLOB_MAX_BYTES", 0, NULL, NULL, "largest blob a worker uploads or fetches"},
    {"worker.class", CFG_STRING, OFF(worker_class), "", 0, 63, "FLOE_WORKER_CLASS", 0, NULL, NULL,
     "floe-worker: the resource class it consumes (also --class NAME)"},
    {"worker.concurrency", CFG_INT, OFF(worker_concurrency), "4", 1, 1024,
     "FLOE_WORKER_CONCURRENCY", 0, NULL, NULL,
     "attempts one worker runs at once; it stops fetching while full"},
    {"worker.backlog", CFG_INT, OFF(worker_backlog), "1024", 1, 100000, "FLOE_WORKER_BACKLOG", 0,
     NULL, NULL,
     "dispatches held unclaimed while every slot is busy; beyond it fetching pauses (a resume "
     "costs a fetch round trip, so keep it well above worker.concurrency)"},
    {"worker.grace", CFG_DURATION, OFF(worker_grace_ms), "30s", 0, 3600000, "FLOE_WORKER_GRACE", 0,
     NULL, NULL,
     "on SIGTERM, running attempts may finish for this long; the rest are stopped and released"},
    {"worker.kill_grace", CFG_DURATION, OFF(worker_kill_grace_ms), "2s", 0, 600000,
     "FLOE_WORKER_KILL_GRACE", 0, NULL, NULL,
     "between SIGTERM and SIGKILL when a task is stopped (timeout, abort, shutdown)"},
    {"worker.result_hold", CFG_DURATION, OFF(worker_result_hold_ms), "10m", 0, 86400000LL,
     "FLOE_WORKER_RESULT_HOLD", 0, NULL, NULL,
     "once an attempt's result is in Kafka its lease is stretched to this, so a leader that "
     "reads it late (failover, backlog) does not retry it as lease_expired"},
    {"worker.dir", CFG_STRING, OFF(worker_dir), "/var/lib/floe/work", 1, 1024, "FLOE_WORKER_DIR", 0,
     NULL, NULL, "floe-worker: per-attempt directories and executor state live here"},
    {"worker.http", CFG_STRING, OFF(worker_http), "127.0.0.1:8781", 0, 256, "FLOE_WORKER_HTTP", 0,
     NULL, NULL, "floe-worker: host:port serving /metrics and /healthz (port 0: any; empty: off)"},
    {"worker.threads", CFG_INT, OFF(worker_threads), "2", 1, 64, "FLOE_WORKER_THREADS", 0, NULL,
     NULL, "floe-worker: threads for file work (inputs, outputs, blob transfers)"},
    {"worker.output_max", CFG_SIZE, OFF(worker_output_max), "1MiB", 64, 67108864,
     "FLOE_WORKER_OUTPUT_MAX", 0, NULL, NULL, "largest non-blob output file a task may write"},
    {"worker.stderr_tail", CFG_SIZE, OFF(worker_stderr_tail), "2KiB", 0, 65536,
     "FLOE_WORKER_STDERR_TAIL", 0, NULL, NULL, "bytes of stderr quoted in a failure"},
    {"worker.cgroups", CFG_ENUM, OFF(worker_cgroups), "on", 0, 0, "FLOE_WORKER_CGROUPS", 0, on_off,
     NULL, "process executor: memory/cpu limits through cgroups when the machine allows it"},
    {"worker.noop", CFG_ENUM, OFF(worker_noop), "off", 0, 0, "FLOE_WORKER_NOOP", 0, on_off, NULL,
     "accept tasks of the noop executor (benchmarks: succeed at once, outputs zero-valued)"},
    {"worker.trace", CFG_STRING, OFF(worker_trace), "", 0, 1024, "FLOE_WORKER_TRACE", 0, NULL, NULL,
     "append one line per finished attempt (ids and ready, dispatched, received, finished "
     "times in unix us) to this file; empty: off (bench/ reads it)"},
    {"oci.runtime", CFG_STRING, OFF(oci_runtime), "runc", 1, 1024, "FLOE_OCI_RUNTIME", 0, NULL,
     NULL, "oci executor: the OCI runtime binary"},
    {"oci.rootfs_dir", CFG_STRING, OFF(oci_rootfs_dir), "/var/lib/floe/rootfs", 1, 1024,
     "FLOE_OCI_ROOTFS_DIR", 0, NULL, NULL, "oci executor: task root filesystems must lie under it"},
    {"kubernetes.api", CFG_STRING, OFF(kube_api), "", 0, 1024, "FLOE_KUBERNETES_API", 0, NULL, NULL,
     "kubernetes executor: API server URL (empty: in-cluster, or kubernetes.kubeconfig)"},
    {"kubernetes.kubeconfig", CFG_STRING, OFF(kube_config), "", 0, 1024, "FLOE_KUBECONFIG", 0, NULL,
     NULL, "kubernetes executor: kubeconfig file (current context) instead of in-cluster"},
    {"kubernetes.namespace", CFG_STRING, OFF(kube_namespace), "", 0, 63,
     "FLOE_KUBERNETES_NAMESPACE", 0, NULL, NULL,
     "kubernetes executor: namespace for pods (empty: the service account's)"},
    {"kubernetes.token_file", CFG_STRING, OFF(kube_token_file),
     "/var/run/secrets/kubernetes.io/serviceaccount/token", 0, 1024, "FLOE_KUBERNETES_TOKEN_FILE",
     0, NULL, NULL, "kubernetes executor: bearer token file (in-cluster)"},
    {"kubernetes.ca_file", CFG_STRING, OFF(kube_ca_file),
     "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt", 0, 1024, "FLOE_KUBERNETES_CA_FILE", 0,
     NULL, NULL, "kubernetes executor: CA bundle of the API server"},
    {"kubernetes.poll", CFG_DURATION, OFF(kube_poll_ms), "1s", 50, 60000, "FLOE_KUBERNETES_POLL", 0,
     NULL, NULL, "kubernetes executor: how often a pod's phase is read"},
    {"project", CFG_STRING, OFF(project), "default", 1, 63, "FLOE_PROJECT", 0, NULL, NULL,
     "floectl: the project used when --project is not given"},
    {"domain", CFG_STRING, OFF(domain), "development", 1, 32, "FLOE_DOMAIN", 0, NULL, NULL,
     "floectl: the domain used when --domain is not given"},
};

#define CONFIG_N (sizeof(config_table) / sizeof(config_table[0]))

/* --- reporting ----------------------------------------------------------------------- */

static void report_add(floe_config_report *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
report_add(floe_config_report *r, const char *fmt, ...)
{
    r->count++;
    size_t used = strlen(r->text);
    if (used >= sizeof(r->text) - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->text + used, sizeof(r->text) - used, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    used = strlen(r->text);
    if (used < sizeof(r->text) - 1) {
        r->text[used] = '\n';
        r->text[used + 1] = '\0';
    }
}

/* --- value checks -------------------------------------------------------------------- */

static bool
is_name_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* A name as used in topic names: [a-z][a-z0-9_-]{0,31}. */
static bool
check_one_name(const char *s, size_t len, char *why, size_t why_size)
{
    if (len == 0 || len > 32) {
        snprintf(why, why_size, "names are 1 to 32 characters");
        return false;
    }
    if (!(s[0] >= 'a' && s[0] <= 'z')) {
        snprintf(why, why_size, "\"%.*s\" must start with a lower-case letter", (int)len, s);
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!is_name_char((unsigned char)s[i])) {
            snprintf(why, why_size, "\"%.*s\": only a-z, 0-9, '_' and '-' are allowed", (int)len,
                     s);
            return false;
        }
    }
    return true;
}

static bool
check_topic_prefix(const char *value, char *why, size_t why_size)
{
    return check_one_name(value, strlen(value), why, why_size);
}

static bool
check_name_list(const char *value, char *why, size_t why_size)
{
    const char *p = value;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        if (!check_one_name(p, len, why, why_size))
            return false;
        if (comma == NULL)
            return true;
        p = comma + 1;
    }
}

static bool
check_kv_list(const char *value, char *why, size_t why_size)
{
    const char *p = value;
    while (*p != '\0') {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (eq == NULL || eq == p) {
            snprintf(why, why_size, "\"%.*s\" is not key=value", (int)len, p);
            return false;
        }
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    return true;
}

static bool
check_http_url(const char *value, char *why, size_t why_size)
{
    if (strncmp(value, "http://", 7) != 0 || value[7] == '\0') {
        snprintf(why, why_size, "expected http://host:port");
        return false;
    }
    return true;
}

/* --- parsing ------------------------------------------------------------------------- */

static bool
parse_int(const char *s, int64_t *out)
{
    if (*s == '\0' || isspace((unsigned char)*s))
        return false;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s)
        return false;
    *out = v;
    return *end == '\0';
}

/* number followed by a unit from units[] (name, multiplier), or a bare number. */
typedef struct cfg_unit {
    const char *name;
    int64_t mult;
} cfg_unit;

static const cfg_unit duration_units[] = {{"ms", 1},      {"s", 1000},     {"m", 60000},
                                          {"h", 3600000}, {"d", 86400000}, {NULL, 0}};
static const cfg_unit size_units[] = {
    {"B", 1},    {"KiB", 1024},      {"MiB", 1024 * 1024},      {"GiB", 1024 * 1024 * 1024},
    {"k", 1024}, {"M", 1024 * 1024}, {"G", 1024 * 1024 * 1024}, {NULL, 0}};

static bool
parse_with_unit(const char *s, const cfg_unit *units, int64_t *out)
{
    if (!isdigit((unsigned char)*s))
        return false;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno != 0)
        return false;
    if (*end == '\0') {
        *out = v;
        return true;
    }
    for (const cfg_unit *u = units; u->name != NULL; u++) {
        if (strcmp(end, u->name) == 0) {
            if (v > INT64_MAX / u->mult)
                return false;
            *out = v * u->mult;
            return true;
        }
    }
    return false;
}

static const char *
type_name(const cfg_entry *e)
{
    switch (e->type) {
    case CFG_STRING:
        return "string";
    case CFG_INT:
        return "integer";
    case CFG_DURATION:
        return "duration";
    case CFG_SIZE:
        return "size";
    case CFG_ENUM:
        return "enum";
    }
    return "?";
}

/* Checks value for e and stores it in cfg. On error, writes why and changes nothing. */
static floe_rc
entry_apply(const cfg_entry *e, floe_config *cfg, const char *value, char *why, size_t why_size)
{
    char *field = (char *)cfg + e->offset;
    int64_t v = 0;
    switch (e->type) {
    case CFG_STRING: {
        size_t len = strlen(value);
        if ((int64_t)len < e->min || (int64_t)len > e->max) {
            snprintf(why, why_size, "length %zu is outside %lld..%lld", len, (long long)e->min,
                     (long long)e->max);
            return FLOE_EINVAL;
        }
        if (e->check != NULL && len > 0 && !e->check(value, why, why_size))
            return FLOE_EINVAL;
        char *copy = floe_strdup(value);
        if (copy == NULL) {
            snprintf(why, why_size, "out of memory");
            return FLOE_ENOMEM;
        }
        char **slot = (char **)(void *)field;
        floe_free(*slot);
        *slot = copy;
        return FLOE_OK;
    }
    case CFG_ENUM:
        for (int i = 0; e->values[i] != NULL; i++) {
            if (strcmp(value, e->values[i]) == 0) {
                *(int *)(void *)field = i;
                return FLOE_OK;
            }
        }
        {
            size_t off = (size_t)snprintf(why, why_size, "expected one of");
            for (int i = 0; e->values[i] != NULL && off < why_size; i++)
                off += (size_t)snprintf(why + off, why_size - off, "%s %s", i ? "," : "",
                                        e->values[i]);
        }
        return FLOE_EINVAL;
    case CFG_INT:
        if (!parse_int(value, &v)) {
            snprintf(why, why_size, "expected an integer");
            return FLOE_EINVAL;
        }
        break;
    case CFG_DURATION:
        if (!parse_with_unit(value, duration_units, &v)) {
            snprintf(why, why_size, "expected a duration such as 250ms, 5s, 2m or 1h");
            return FLOE_EINVAL;
        }
        break;
    case CFG_SIZE:
        if (!parse_with_unit(value, size_units, &v)) {
            snprintf(why, why_size, "expected a size such as 4096, 512KiB or 1MiB");
            return FLOE_EINVAL;
        }
        break;
    }
    if (v < e->min || v > e->max) {
        snprintf(why, why_size, "%lld is outside %lld..%lld", (long long)v, (long long)e->min,
                 (long long)e->max);
        return FLOE_EINVAL;
    }
    *(int64_t *)(void *)field = v;
    return FLOE_OK;
}

static const cfg_entry *
entry_find(const char *key, size_t len)
{
    for (size_t i = 0; i < CONFIG_N; i++) {
        if (strlen(config_table[i].key) == len && memcmp(config_table[i].key, key, len) == 0)
            return &config_table[i];
    }
    return NULL;
}

static const char *
env_lookup(char *const *env, const char *name)
{
    if (env == NULL)
        return NULL;
    size_t n = strlen(name);
    for (char *const *p = env; *p != NULL; p++) {
        if (strncmp(*p, name, n) == 0 && (*p)[n] == '=')
            return *p + n + 1;
    }
    return NULL;
}

static char *
trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

/* --- sources ------------------------------------------------------------------------- */

#define CFG_LINE_MAX 4200

/* Returns FLOE_ENOMEM only; entry errors go to the report. */
static floe_rc
load_file(floe_config *cfg, const char *path, floe_config_report *r)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        report_add(r, "config file %s: cannot open: %s", path, strerror(errno));
        return FLOE_OK;
    }
    char line[CFG_LINE_MAX];
    char why[256];
    unsigned lineno = 0;
    floe_rc rc = FLOE_OK;
    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
            report_add(r, "%s:%u: line longer than %d bytes", path, lineno, CFG_LINE_MAX - 2);
            int c;
            while ((c = fgetc(f)) != EOF && c != '\n')
                ;
            continue;
        }
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            report_add(r, "%s:%u: expected `key = value`", path, lineno);
            continue;
        }
        *eq = '\0';
        char *key = trim(s);
        char *value = trim(eq + 1);
        size_t vlen = strlen(value);
        if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') {
            value[vlen - 1] = '\0';
            value++;
        }
        const cfg_entry *e = entry_find(key, strlen(key));
        if (e == NULL) {
            report_add(r, "%s:%u: unknown setting \"%s\"", path, lineno, key);
            continue;
        }
        rc = entry_apply(e, cfg, value, why, sizeof(why));
        if (rc == FLOE_ENOMEM)
            break;
        if (rc != FLOE_OK)
            report_add(r, "%s:%u: %s: %s", path, lineno, key, why);
        rc = FLOE_OK;
    }
    fclose(f);
    return rc;
}

void
floe_config_free(floe_config *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < CONFIG_N; i++) {
        if (config_table[i].type == CFG_STRING)
            floe_free(*(char **)(void *)((char *)cfg + config_table[i].offset));
    }
    floe_free(cfg->producer_name);
    floe_free(cfg);
}

floe_rc
floe_config_load(const floe_config_source *src, floe_config **out, floe_config_report *report)
{
    char why[256];
    floe_rc rc = FLOE_OK;
    report->count = 0;
    report->text[0] = '\0';
    *out = NULL;

    floe_config *cfg = floe_calloc(1, sizeof(*cfg));
    if (cfg == NULL)
        goto out_nomem;
    for (size_t i = 0; i < CONFIG_N; i++) {
        rc = entry_apply(&config_table[i], cfg, config_table[i].def, why, sizeof(why));
        if (rc == FLOE_ENOMEM)
            goto out_nomem;
        if (rc != FLOE_OK) /* a broken table row: caught by test_config */
            report_add(report, "built-in default of %s: %s", config_table[i].key, why);
    }

    const char *file = src->file != NULL ? src->file : env_lookup(src->env, "FLOE_CONFIG");
    if (file != NULL && *file != '\0' && load_file(cfg, file, report) == FLOE_ENOMEM)
        goto out_nomem;

    for (size_t i = 0; i < CONFIG_N; i++) {
        const char *v = env_lookup(src->env, config_table[i].env);
        if (v == NULL)
            continue;
        rc = entry_apply(&config_table[i], cfg, v, why, sizeof(why));
        if (rc == FLOE_ENOMEM)
            goto out_nomem;
        if (rc != FLOE_OK)
            report_add(report, "environment %s: %s", config_table[i].env, why);
    }

    for (size_t i = 0; i < src->n_overrides; i++) {
        const char *kv = src->overrides[i];
        const char *eq = strchr(kv, '=');
        const cfg_entry *e = eq != NULL ? entry_find(kv, (size_t)(eq - kv)) : NULL;
        if (e == NULL) {
            report_add(report, "flag \"%s\": unknown setting (see --help-config)", kv);
            continue;
        }
        rc = entry_apply(e, cfg, eq + 1, why, sizeof(why));
        if (rc == FLOE_ENOMEM)
            goto out_nomem;
        if (rc != FLOE_OK)
            report_add(report, "flag %s: %s", e->key, why);
    }

    cfg->producer_name = floe_strdup(src->program != NULL ? src->program : "floe");
    if (cfg->producer_name == NULL)
        goto out_nomem;

    if (report->count > 0) {
        floe_config_free(cfg);
        return FLOE_EINVAL;
    }
    *out = cfg;
    return FLOE_OK;

out_nomem:
    floe_config_free(cfg);
    report_add(report, "out of memory while loading the configuration");
    return FLOE_ENOMEM;
}

/* --- output -------------------------------------------------------------------------- */

bool
floe_config_key_secret(const char *key, size_t len)
{
    static const char *const words[] = {"password", "secret", "token", "key", "credential"};
    for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
        size_t n = strlen(words[w]);
        for (size_t i = 0; i + n <= len; i++)
            if (strncasecmp(key + i, words[w], n) == 0)
                return true;
    }
    return false;
}

/* k=v,k=v with the value of every secret-looking key (sasl.password, ssl.key.password...)
 * shown as *** (review M14). */
static void
print_kv_redacted(FILE *out, const char *list)
{
    const char *p = list;
    while (*p != '\0') {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (eq != NULL && floe_config_key_secret(p, (size_t)(eq - p)))
            fprintf(out, "%.*s=***", (int)(eq - p), p);
        else
            fprintf(out, "%.*s", (int)len, p);
        p += len;
        if (*p == ',')
            fputc(*p++, out);
    }
}

static void
print_url_redacted(FILE *out, const char *url)
{
    /* scheme://user:password@host -> scheme://user:***@host; the password may itself hold
     * '@', so the last one before the path ends it. */
    const char *scheme = strstr(url, "://");
    const char *at = NULL;
    if (scheme != NULL) {
        const char *end = strchr(scheme + 3, '/');
        for (const char *q = scheme + 3; *q != '\0' && (end == NULL || q < end); q++)
            if (*q == '@')
                at = q;
    }
    const char *colon = at != NULL ? memchr(scheme + 3, ':', (size_t)(at - scheme - 3)) : NULL;
    if (colon == NULL) {
        /* conninfo form: hide a password=... word, quoted ('...' with \' inside) or not */
        const char *pw = strstr(url, "password");
        const char *v = pw != NULL ? pw + 8 : NULL;
        while (v != NULL && *v == ' ')
            v++;
        if (v == NULL || *v != '=') {
            fputs(url, out);
            return;
        }
        v++;
        while (*v == ' ')
            v++;
        fprintf(out, "%.*spassword=***", (int)(pw - url), url);
        const char *rest = v;
        if (*rest == '\'') {
            for (rest++; *rest != '\0' && *rest != '\''; rest++)
                if (*rest == '\\' && rest[1] != '\0')
                    rest++;
            if (*rest == '\'')
                rest++;
        } else {
            while (*rest != '\0' && *rest != ' ')
                rest++;
        }
        fputs(rest, out);
        return;
    }
    fprintf(out, "%.*s:***%s", (int)(colon - url), url, at);
}

void
floe_config_print(const floe_config *cfg, FILE *out)
{
    for (size_t i = 0; i < CONFIG_N; i++) {
        const cfg_entry *e = &config_table[i];
        const char *field = (const char *)cfg + e->offset;
        fprintf(out, "%s = ", e->key);
        switch (e->type) {
        case CFG_STRING: {
            const char *s = *(char *const *)(const void *)field;
            if (e->flags & CFG_SECRET)
                fputs(*s ? "***" : "", out);
            else if (e->flags & CFG_KV)
                print_kv_redacted(out, s);
            else if (e->flags & CFG_URL)
                print_url_redacted(out, s);
            else
                fputs(s, out);
            break;
        }
        case CFG_ENUM:
            fputs(e->values[*(const int *)(const void *)field], out);
            break;
        case CFG_INT:
            fprintf(out, "%lld", (long long)*(const int64_t *)(const void *)field);
            break;
        case CFG_DURATION:
            fprintf(out, "%lldms", (long long)*(const int64_t *)(const void *)field);
            break;
        case CFG_SIZE:
            fprintf(out, "%lld", (long long)*(const int64_t *)(const void *)field);
            break;
        }
        fputc('\n', out);
    }
}

void
floe_config_help(FILE *out)
{
    for (size_t i = 0; i < CONFIG_N; i++) {
        const cfg_entry *e = &config_table[i];
        fprintf(out, "  %-24s %-8s default %-22s %s\n      %s\n", e->key, type_name(e),
                *e->def ? e->def : "\"\"", e->env, e->help);
    }
}

floe_rc
floe_config_topic(const floe_config *cfg, const char *suffix, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%s.%s", cfg->topic_prefix, suffix);
    if (n < 0 || (size_t)n >= size)
        return FLOE_ETOOBIG;
    return FLOE_OK;
}
