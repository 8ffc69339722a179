/*
 * The settings table: every setting of every program, its type, default, bounds,
 * environment variable and help. To add a setting: a field in floe_config, a row here.
 * The value checks the rows name live here too; the loader is floe_config.c.
 */
#include "floe_config_int.h"

#include <stdio.h>
#include <string.h>

static bool check_name_list(const char *value, char *why, size_t why_size);
static bool check_topic_prefix(const char *value, char *why, size_t why_size);
static bool check_kv_list(const char *value, char *why, size_t why_size);
static bool check_http_url(const char *value, char *why, size_t why_size);
static bool check_s3_endpoint(const char *value, char *why, size_t why_size);
static bool check_s3_bucket(const char *value, char *why, size_t why_size);
static bool check_s3_region(const char *value, char *why, size_t why_size);
static bool check_s3_prefix(const char *value, char *why, size_t why_size);

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const log_formats[] = {"logfmt", "json", NULL};
static const char *const on_off[] = {"off", "on", NULL};
static const char *const blob_backends[] = {"local", "s3", NULL};
static const char *const s3_addressing[] = {"path", "virtual", NULL};

#define OFF(f) offsetof(floe_config, f)

const cfg_entry floe_config_table[] = {
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
    {"bus.keys_file", CFG_STRING, OFF(bus_keys_file), "", 0, 1000, "FLOE_BUS_KEYS_FILE", 0, NULL,
     NULL,
     "a file of bus keys (HMAC or Ed25519, each with its role): messages produced are signed, "
     "messages consumed must be signed by one of them with a role that may send them (else "
     "dead-lettered); empty: nothing signed or checked, and said at start (docs/security.md)"},
    {"bus.sign_key", CFG_STRING, OFF(bus_sign_key), "", 0, 32, "FLOE_BUS_SIGN_KEY", 0, NULL, NULL,
     "the key of bus.keys_file this process signs with; empty: the first key that can sign"},
    {"bus.max_message_bytes", CFG_SIZE, OFF(bus_max_message_bytes), "1MiB", 1024, 16777216,
     "FLOE_BUS_MAX_MESSAGE_BYTES", 0, NULL, NULL,
     "largest bus message accepted or produced; larger ones are dead-lettered"},
    {"bus.max_inflight_bytes", CFG_SIZE, OFF(bus_max_inflight_bytes), "256MiB", 4096, 68719476736LL,
     "FLOE_BUS_MAX_INFLIGHT_BYTES", 0, NULL, NULL,
     "bytes of consumed messages not yet acknowledged; fetching pauses beyond it"},
    {"bus.batch_max", CFG_INT, OFF(bus_batch_max), "256", 1, 100000, "FLOE_BUS_BATCH_MAX", 0, NULL,
     NULL, "messages handled per event-loop turn before yielding"},
    {"bus.offset_refresh", CFG_DURATION, OFF(bus_offset_refresh_ms), "1h", 0, 86400000,
     "FLOE_BUS_OFFSET_REFRESH", 0, NULL, NULL,
     "commit a consumer's offsets again this often though unchanged (a broker before 2.1 "
     "expires offsets by their commit's age, offsets.retention.minutes); 0: never"},
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
    {"blob.backend", CFG_ENUM, OFF(blob_backend), "local", 0, 0, "FLOE_BLOB_BACKEND", 0,
     blob_backends, NULL,
     "where blobs live: local (blob.root, a directory every worker shares) or s3 (blob.s3.*)"},
    {"blob.s3.endpoint", CFG_STRING, OFF(blob_s3_endpoint), "", 0, 256, "FLOE_BLOB_S3_ENDPOINT", 0,
     NULL, check_s3_endpoint,
     "S3-compatible service, http(s)://host[:port] (AWS: https://s3.REGION.amazonaws.com)"},
    {"blob.s3.bucket", CFG_STRING, OFF(blob_s3_bucket), "", 0, 63, "FLOE_BLOB_S3_BUCKET", 0, NULL,
     check_s3_bucket, "bucket holding the blobs (it must exist)"},
    {"blob.s3.region", CFG_STRING, OFF(blob_s3_region), "us-east-1", 1, 64, "FLOE_BLOB_S3_REGION",
     0, NULL, check_s3_region, "region the requests are signed for (SigV4)"},
    {"blob.s3.prefix", CFG_STRING, OFF(blob_s3_prefix), "", 0, 128, "FLOE_BLOB_S3_PREFIX", 0, NULL,
     check_s3_prefix, "key prefix of every blob (\"floe/\" puts them under floe/sha256/...)"},
    {"blob.s3.addressing", CFG_ENUM, OFF(blob_s3_addressing), "path", 0, 0,
     "FLOE_BLOB_S3_ADDRESSING", 0, s3_addressing, NULL,
     "path (endpoint/bucket/key) or virtual (bucket.endpoint-host/key) addressing"},
    {"blob.s3.access_key_id", CFG_STRING, OFF(blob_s3_access_key_id), "", 0, 256,
     "FLOE_BLOB_S3_ACCESS_KEY_ID", 0, NULL, NULL,
     "access key id (else AWS_ACCESS_KEY_ID, else blob.s3.credentials_file)"},
    {"blob.s3.secret_access_key", CFG_STRING, OFF(blob_s3_secret_access_key), "", 0, 256,
     "FLOE_BLOB_S3_SECRET_ACCESS_KEY", CFG_SECRET, NULL, NULL,
     "secret access key (else AWS_SECRET_ACCESS_KEY, else blob.s3.credentials_file)"},
    {"blob.s3.session_token", CFG_STRING, OFF(blob_s3_session_token), "", 0, 4096,
     "FLOE_BLOB_S3_SESSION_TOKEN", CFG_SECRET, NULL, NULL,
     "temporary credentials' session token (else AWS_SESSION_TOKEN)"},
    {"blob.s3.credentials_file", CFG_STRING, OFF(blob_s3_credentials_file), "", 0, 1024,
     "FLOE_BLOB_S3_CREDENTIALS_FILE", 0, NULL, NULL,
     "an AWS shared-credentials file (aws_access_key_id, aws_secret_access_key, "
     "aws_session_token under [profile]), read when the keys are not set otherwise"},
    {"blob.s3.profile", CFG_STRING, OFF(blob_s3_profile), "default", 1, 64, "FLOE_BLOB_S3_PROFILE",
     0, NULL, NULL, "the credentials file's section to read"},
    {"blob.s3.multipart_threshold", CFG_SIZE, OFF(blob_s3_multipart_threshold), "64MiB", 5242880,
     5368709120LL, "FLOE_BLOB_S3_MULTIPART_THRESHOLD", 0, NULL, NULL,
     "blobs above this size are uploaded in parts"},
    {"blob.s3.part_size", CFG_SIZE, OFF(blob_s3_part_size), "16MiB", 5242880, 5368709120LL,
     "FLOE_BLOB_S3_PART_SIZE", 0, NULL, NULL,
     "size of a multipart upload's parts (raised when a blob would need over 10,000)"},
    {"blob.s3.timeout", CFG_DURATION, OFF(blob_s3_timeout_ms), "30s", 1000, 3600000,
     "FLOE_BLOB_S3_TIMEOUT", 0, NULL, NULL,
     "connecting, and a transfer without a byte moving, give up after this (then retried)"},
    {"blob.s3.presign_expires", CFG_DURATION, OFF(blob_s3_presign_expires_ms), "15m", 1000,
     604800000LL, "FLOE_BLOB_S3_PRESIGN_EXPIRES", 0, NULL, NULL,
     "how long a presigned url (a blob fetched or stored through the API, a pod's inputs "
     "and outputs) stays valid"},
    {"blob.s3.retries", CFG_INT, OFF(blob_s3_retries), "4", 0, 20, "FLOE_BLOB_S3_RETRIES", 0, NULL,
     NULL,
     "a request failing with 5xx, 429 or a broken connection is tried again this many times, "
     "with backoff, before the blob's transfer fails"},
    {"api.spool_dir", CFG_STRING, OFF(api_spool_dir), "/var/tmp", 1, 1000, "FLOE_API_SPOOL_DIR", 0,
     NULL, NULL, "floe-scheduler: where a blob posted to the API waits while it is stored"},
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
    {"api.auth", CFG_ENUM, OFF(api_auth), "on", 0, 0, "FLOE_API_AUTH", 0, on_off, NULL,
     "floe-scheduler: every route but /healthz, /readyz (and /metrics, api.metrics_public) "
     "needs a bearer token; off trusts every caller and is logged loudly (docs/security.md)"},
    {"api.bootstrap_token_file", CFG_STRING, OFF(api_bootstrap_token_file), "", 0, 1000,
     "FLOE_API_BOOTSTRAP_TOKEN_FILE", 0, NULL, NULL,
     "floe-scheduler: a file holding the installation's first admin token (admin of every "
     "project), stored as its hash at start; replaced when the file changes"},
    {"api.metrics_public", CFG_ENUM, OFF(api_metrics_public), "on", 0, 0, "FLOE_API_METRICS_PUBLIC",
     0, on_off, NULL, "floe-scheduler: /metrics without a token (off: any valid token)"},
    {"api.console", CFG_ENUM, OFF(api_console), "on", 0, 0, "FLOE_API_CONSOLE", 0, on_off, NULL,
     "floe-scheduler: serve the web console at / (docs/console.md)"},
    {"api.feed_max", CFG_INT, OFF(api_feed_max), "256", 0, 100000, "FLOE_API_FEED_MAX", 0, NULL,
     NULL, "floe-scheduler: live feed streams open at once on a replica; 0 turns the feed off"},
    {"api.auth_cache", CFG_DURATION, OFF(api_auth_cache_ms), "5s", 0, 300000, "FLOE_API_AUTH_CACHE",
     0, NULL, NULL,
     "floe-scheduler: how long a replica trusts a token it looked up; a revocation reaches "
     "the other replicas within it"},
    {"api.token", CFG_STRING, OFF(api_token), "", 0, 8192, "FLOE_TOKEN", CFG_SECRET, NULL, NULL,
     "floectl: the bearer token sent to the API"},
    {"api.token_file", CFG_STRING, OFF(api_token_file), "", 0, 1000, "FLOE_TOKEN_FILE", 0, NULL,
     NULL, "floectl: a file holding the bearer token (when api.token is empty)"},
    {"api.oidc.issuer", CFG_STRING, OFF(api_oidc_issuer), "", 0, 1000, "FLOE_API_OIDC_ISSUER", 0,
     NULL, NULL,
     "floe-scheduler: accept OIDC access tokens (JWTs) whose iss is this; empty: only API "
     "tokens (docs/security.md)"},
    {"api.oidc.audience", CFG_STRING, OFF(api_oidc_audience), "floe", 1, 1000,
     "FLOE_API_OIDC_AUDIENCE", 0, NULL, NULL,
     "floe-scheduler: the audience (aud) an OIDC token must name"},
    {"api.oidc.jwks_file", CFG_STRING, OFF(api_oidc_jwks_file), "", 0, 1000,
     "FLOE_API_OIDC_JWKS_FILE", 0, NULL, NULL,
     "floe-scheduler: the issuer's signing keys (a JWKS document), read again when it changes"},
    {"api.oidc.jwks_url", CFG_STRING, OFF(api_oidc_jwks_url), "", 0, 1000, "FLOE_API_OIDC_JWKS_URL",
     0, NULL, NULL,
     "floe-scheduler: where to fetch the issuer's JWKS (https), when jwks_file is empty"},
    {"api.oidc.jwks_refresh", CFG_DURATION, OFF(api_oidc_jwks_refresh_ms), "10m", 1000, 86400000,
     "FLOE_API_OIDC_JWKS_REFRESH", 0, NULL, NULL,
     "floe-scheduler: how often the JWKS url is fetched again (and at most every 30 s when a "
     "token names an unknown key)"},
    {"api.oidc.algorithms", CFG_STRING, OFF(api_oidc_algorithms), "RS256,ES256", 1, 64,
     "FLOE_API_OIDC_ALGORITHMS", 0, NULL, NULL,
     "floe-scheduler: signature algorithms accepted (RS256, ES256), each pinned to its key type"},
    {"api.oidc.clock_skew", CFG_DURATION, OFF(api_oidc_clock_skew_ms), "60s", 0, 300000,
     "FLOE_API_OIDC_CLOCK_SKEW", 0, NULL, NULL,
     "floe-scheduler: leeway on exp, nbf and iat (at most 5m)"},
    {"api.oidc.grants_claim", CFG_STRING, OFF(api_oidc_grants_claim), "floe_grants", 1, 128,
     "FLOE_API_OIDC_GRANTS_CLAIM", 0, NULL, NULL,
     "floe-scheduler: the claim listing the caller's roles as \"project=role\" strings"},
    {"api.tls_cert", CFG_STRING, OFF(api_tls_cert), "", 0, 1000, "FLOE_API_TLS_CERT", 0, NULL, NULL,
     "floe-scheduler: serve the API over TLS with this certificate chain (PEM)"},
    {"api.tls_key", CFG_STRING, OFF(api_tls_key), "", 0, 1000, "FLOE_API_TLS_KEY", 0, NULL, NULL,
     "floe-scheduler: the TLS certificate's private key (PEM; not world-readable)"},
    {"api.ca_file", CFG_STRING, OFF(api_ca_file), "", 0, 1000, "FLOE_CA_FILE", 0, NULL, NULL,
     "floectl: CA certificates (PEM) to verify an https api.url; empty: the system's"},
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
    {"engine.child_check", CFG_DURATION, OFF(child_check_ms), "30s", 1000, 86400000LL,
     "FLOE_CHILD_CHECK", 0, NULL, NULL,
     "a node waiting for its child execution (a launch-plan node, a dynamic workflow) looks "
     "at the child's row this often, in case the child's end was not passed on (a leader "
     "that died in between)"},
    {"engine.reconcile_every", CFG_DURATION, OFF(reconcile_every_ms), "30s", 0, 86400000LL,
     "FLOE_RECONCILE_EVERY", 0, NULL, NULL,
     "the leader looks this often for RUNNING executions (started at least this long ago) "
     "whose state Redis lost, and requests them again; 0: never"},
    {"engine.egress_batch", CFG_ENUM, OFF(egress_batch), "on", 0, 0, "FLOE_EGRESS_BATCH", 0, on_off,
     NULL,
     "on: the phase changes of one execution made while the engine handles one batch of work "
     "go out together, one PhaseChanges message; off: one PhaseChanged each"},
    {"engine.egress_delay", CFG_DURATION, OFF(egress_delay_ms), "25ms", 0, 1000,
     "FLOE_EGRESS_DELAY", 0, NULL, NULL,
     "with engine.egress_batch on, changes are held this long after the first of them, so "
     "an execution's changes over a few hops share a message; 0: sent once the batch of work "
     "that made them is done"},
    {"engine.egress_nodes", CFG_ENUM, OFF(egress_nodes), "on", 0, 0, "FLOE_EGRESS_NODES", 0, on_off,
     NULL, "publish node phase changes to <prefix>.egress (execution changes always are)"},
    {"engine.dispatch_group", CFG_INT, OFF(dispatch_group), "64", 0, 4096, "FLOE_DISPATCH_GROUP", 0,
     NULL, NULL,
     "dispatches produced together share a partition of their class's topic, at most this "
     "many in a row and fewer the quieter the engine (one a partition when quiet, so a small "
     "fan-out spreads over the workers): one produce request where there were one a "
     "partition; 0: partitioned by key (execution/node), as Kafka's Java client would"},
    {"engine.threads", CFG_INT, OFF(engine_threads), "2", 1, 32, "FLOE_ENGINE_THREADS", 0, NULL,
     NULL, "threads (each with a PostgreSQL connection) for the engine's database work"},
    {"redis.timeout", CFG_DURATION, OFF(redis_timeout_ms), "5s", 100, 600000, "FLOE_REDIS_TIMEOUT",
     0, NULL, NULL, "a Redis request unanswered for this long drops the connection"},
    {"values.inline_max", CFG_SIZE, OFF(values_inline_max), "128KiB", 1024, 262144,
     "FLOE_VALUES_INLINE_MAX", 0, NULL, NULL,
     "the inputs or outputs of one message take at most this inline together: the largest "
     "travel by reference, kept in the blob store (a message decodes up to ~30 times its "
     "size: this keeps it under the bus's limits)"},
    {"values.max_bytes", CFG_SIZE, OFF(values_max_bytes), "256MiB", 1024, 4294967296LL,
     "FLOE_VALUES_MAX_BYTES", 0, NULL, NULL,
     "largest value by reference a scheduler or worker reads back into memory"},
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
    {"worker.started_after", CFG_DURATION, OFF(worker_started_after_ms), "1s", 0, 3600000,
     "FLOE_WORKER_STARTED_AFTER", 0, NULL, NULL,
     "an attempt still running after this is announced (TaskStarted: the node shows RUNNING); "
     "a shorter one's start travels in its result, one message less; 0 announces every "
     "attempt at once"},
    {"worker.log_ship_every", CFG_DURATION, OFF(worker_log_ship_every_ms), "1s", 0, 3600000,
     "FLOE_WORKER_LOG_SHIP_EVERY", 0, NULL, NULL,
     "what a running task wrote since the last time is shipped to the blob store this often, "
     "for floectl logs -f; 0: logs only when the attempt ends"},
    {"worker.dir", CFG_STRING, OFF(worker_dir), "/var/lib/floe/work", 1, 1024, "FLOE_WORKER_DIR", 0,
     NULL, NULL, "floe-worker: per-attempt directories and executor state live here"},
    {"worker.http", CFG_STRING, OFF(worker_http), "127.0.0.1:8781", 0, 256, "FLOE_WORKER_HTTP", 0,
     NULL, NULL, "floe-worker: host:port serving /metrics and /healthz (port 0: any; empty: off)"},
    {"worker.threads", CFG_INT, OFF(worker_threads), "2", 1, 64, "FLOE_WORKER_THREADS", 0, NULL,
     NULL, "floe-worker: threads for file work (inputs, outputs, blob transfers)"},
    {"worker.output_max", CFG_SIZE, OFF(worker_output_max), "16MiB", 64, 67108864,
     "FLOE_WORKER_OUTPUT_MAX", 0, NULL, NULL, "largest non-blob output file a task may write"},
    {"worker.secrets_dir", CFG_STRING, OFF(worker_secrets_dir), "", 0, 1000,
     "FLOE_WORKER_SECRETS_DIR", 0, NULL, NULL,
     "floe-worker: where tasks' secrets are, a file per secret named by it (a mounted "
     "Kubernetes Secret, a credentials directory); empty: tasks with secrets fail here"},
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
    {"oci.image_cache_keep", CFG_INT, OFF(oci_image_cache_keep), "8", 1, 10000,
     "FLOE_OCI_IMAGE_CACHE_KEEP", 0, NULL, NULL,
     "images of oci tasks kept unpacked under <oci.rootfs_dir>/.images; beyond it the least "
     "recently used go (not one used within the hour)"},
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
    {"kubernetes.run_as_user", CFG_INT, OFF(kube_run_as_user), "65534", 1, 2147483647LL,
     "FLOE_KUBERNETES_RUN_AS_USER", 0, NULL, NULL,
     "kubernetes executor: the uid a task's container runs as (never root)"},
    {"kubernetes.node_selector", CFG_STRING, OFF(kube_node_selector), "", 0, 1000,
     "FLOE_KUBERNETES_NODE_SELECTOR", 0, NULL, check_kv_list,
     "kubernetes executor: label=value,... a node must carry to run this class's pods"},
    {"kubernetes.tolerations", CFG_STRING, OFF(kube_tolerations), "", 0, 1000,
     "FLOE_KUBERNETES_TOLERATIONS", 0, NULL, NULL,
     "kubernetes executor: taints this class's pods tolerate, key[=value]:Effect,..."},
    {"kubernetes.service_account", CFG_STRING, OFF(kube_service_account), "", 0, 253,
     "FLOE_KUBERNETES_SERVICE_ACCOUNT", 0, NULL, NULL,
     "kubernetes executor: the service account of this class's pods (its token is not "
     "mounted)"},
    {"kubernetes.image_pull_secrets", CFG_STRING, OFF(kube_pull_secrets), "", 0, 1000,
     "FLOE_KUBERNETES_IMAGE_PULL_SECRETS", 0, NULL, NULL,
     "kubernetes executor: secrets for pulling this class's images, comma-separated"},
    {"kubernetes.poll", CFG_DURATION, OFF(kube_poll_ms), "1s", 50, 60000, "FLOE_KUBERNETES_POLL", 0,
     NULL, NULL,
     "kubernetes executor: how often a pod's phase is read when it is not watched (watch "
     "off, or an API server that does not watch)"},
    {"kubernetes.secret_name", CFG_STRING, OFF(kube_secret_name), "", 0, 253,
     "FLOE_KUBERNETES_SECRET_NAME", 0, NULL, NULL,
     "kubernetes executor: the Secret (in kubernetes.namespace) whose keys are the tasks' "
     "secrets by name; pods reference it, the values never pass through Floe"},
    {"kubernetes.helper_image", CFG_STRING, OFF(kube_helper_image), "", 0, 512,
     "FLOE_KUBERNETES_HELPER_IMAGE", 0, NULL, NULL,
     "kubernetes executor: an image with sh, curl and sha256sum; when set, pods move their "
     "data themselves through presigned S3 urls and tasks see $FLOE_INPUTS and $FLOE_OUTPUTS "
     "files (blob.backend=s3); when empty, inputs travel as FLOE_INPUTS_JSON and outputs as "
     "floe.output log lines"},
    {"kubernetes.watch", CFG_ENUM, OFF(kube_watch), "on", 0, 0, "FLOE_KUBERNETES_WATCH", 0, on_off,
     NULL,
     "kubernetes executor: follow each pod through a watch (one long-lived request) rather "
     "than reading it every kubernetes.poll"},
    {"project", CFG_STRING, OFF(project), "default", 1, 63, "FLOE_PROJECT", 0, NULL, NULL,
     "floectl: the project used when --project is not given"},
    {"domain", CFG_STRING, OFF(domain), "development", 1, 32, "FLOE_DOMAIN", 0, NULL, NULL,
     "floectl: the domain used when --domain is not given"},
};

const size_t floe_config_table_n = sizeof(floe_config_table) / sizeof(floe_config_table[0]);

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
    size_t skip = strncmp(value, "https://", 8) == 0  ? 8
                  : strncmp(value, "http://", 7) == 0 ? 7
                                                      : 0;
    if (skip == 0 || value[skip] == '\0') {
        snprintf(why, why_size, "expected http://host:port or https://host:port");
        return false;
    }
    return true;
}

/* http(s)://host[:port], optionally with a trailing '/': no user, path or query, so
 * nothing but the bucket and the key is ever appended. */
static bool
check_s3_endpoint(const char *value, char *why, size_t why_size)
{
    if (value[0] == '\0')
        return true; /* unset: the s3 backend refuses to open without it */
    const char *h = strncmp(value, "https://", 8) == 0  ? value + 8
                    : strncmp(value, "http://", 7) == 0 ? value + 7
                                                        : NULL;
    size_t n = h != NULL ? strcspn(h, "/") : 0;
    if (h == NULL || n == 0 || (strcmp(h + n, "/") != 0 && h[n] != '\0') ||
        strcspn(h, "@?#") < strlen(h)) {
        snprintf(why, why_size, "expected http(s)://host[:port]");
        return false;
    }
    return true;
}

/* S3's bucket naming rules: 3 to 63 of a-z, 0-9, '.', '-', starting and ending with a
 * letter or digit. */
static bool
check_s3_bucket(const char *value, char *why, size_t why_size)
{
    size_t n = strlen(value);
    if (n == 0)
        return true;
    bool ok = n >= 3 && n <= 63 && value[0] != '.' && value[0] != '-' && value[n - 1] != '.' &&
              value[n - 1] != '-' && strspn(value, "abcdefghijklmnopqrstuvwxyz0123456789.-") == n;
    if (!ok)
        snprintf(why, why_size,
                 "a bucket name is 3 to 63 of a-z, 0-9, '.' and '-', starting and ending with a "
                 "letter or digit");
    return ok;
}

/* A key prefix that needs no escaping and climbs nowhere: A-Z a-z 0-9 / _ . -, no "..",
 * not starting with '/'. */
static bool
check_s3_prefix(const char *value, char *why, size_t why_size)
{
    size_t n = strlen(value);
    bool ok =
        value[0] != '/' && strstr(value, "..") == NULL && strstr(value, "//") == NULL &&
        strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_.-") == n;
    if (!ok)
        snprintf(why, why_size,
                 "a key prefix uses A-Z, a-z, 0-9, '/', '_', '.' and '-', without \"..\", \"//\" "
                 "or a leading '/'");
    return ok;
}

static bool
check_s3_region(const char *value, char *why, size_t why_size)
{
    return check_one_name(value, strlen(value), why, why_size);
}
