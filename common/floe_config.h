/*
 * floe_config — every setting of every Floe program, in one declarative table
 * (floe_config_table.c: name, type, default, bounds, FLOE_* variable, help, secret flag), as
 * Redis's standardConfig and PostgreSQL's GUC tables.
 *
 * Sources apply in order: defaults, then the config file (`key = value` lines, `#`
 * comments), then FLOE_* environment variables, then command-line overrides. Every invalid
 * entry of every source is reported (file and line, variable or flag named) before the
 * load fails; nothing is half-applied. The result is immutable: pass it as const.
 */
#ifndef FLOE_CONFIG_H
#define FLOE_CONFIG_H

#include "floe_err.h"
#include "floe_log.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct floe_config {
    floe_log_level log_level;
    floe_log_format log_format;

    char *kafka_brokers;
    char *kafka_properties; /* "k=v,k=v": any librdkafka property */
    char *topic_prefix;
    char *resource_classes; /* "a,b,c" */
    int64_t kafka_session_timeout_ms;
    int64_t kafka_linger_ms;
    int64_t bus_max_message_bytes;
    char *bus_keys_file; /* floe_sign.h: empty = unsigned bus */
    char *bus_sign_key;  /* its signing key's name; empty = the first that can sign */
    int64_t bus_max_inflight_bytes;
    int64_t bus_batch_max;
    int64_t bus_offset_refresh_ms; /* 0: offsets committed only when they move */

    char *redis_url;
    char *postgres_url;
    int64_t postgres_timeout_ms; /* statement and lock wait bound per connection */
    char *api_url;
    char *api_spool_dir;
    char *blob_root;
    int blob_backend; /* FLOE_BLOB_LOCAL, FLOE_BLOB_S3 (an enum: stored as int) */
    char *blob_s3_endpoint, *blob_s3_bucket, *blob_s3_region, *blob_s3_prefix;
    int blob_s3_addressing; /* FLOE_S3_PATH, FLOE_S3_VIRTUAL */
    char *blob_s3_access_key_id, *blob_s3_secret_access_key, *blob_s3_session_token;
    char *blob_s3_credentials_file, *blob_s3_profile;
    int64_t blob_s3_multipart_threshold, blob_s3_part_size, blob_s3_timeout_ms, blob_s3_retries;
    int64_t blob_s3_presign_expires_ms;

    char *domains;       /* "development,staging,production" */
    int64_t api_threads; /* pool threads serving API database work */
    int64_t api_max_body_bytes;
    int64_t api_max_inflight, api_max_inflight_bytes, api_max_connections;
    int64_t api_timeout_ms;           /* floectl: per request */
    int api_auth, api_metrics_public; /* on_off */
    int api_console;                  /* on_off */
    int64_t api_feed_max;             /* live feed streams per replica */
    char *api_bootstrap_token_file;
    int64_t api_auth_cache_ms;
    char *api_token, *api_token_file; /* floectl */
    /* OIDC access tokens (sched_jwt): on when an issuer is set. */
    char *api_oidc_issuer, *api_oidc_audience, *api_oidc_jwks_file, *api_oidc_jwks_url;
    char *api_oidc_algorithms, *api_oidc_grants_claim;
    int64_t api_oidc_clock_skew_ms, api_oidc_jwks_refresh_ms;
    /* TLS: the scheduler's certificate and key; floectl's CA bundle. */
    char *api_tls_cert, *api_tls_key, *api_ca_file;
    int64_t spec_max_bytes;
    int64_t spec_max_documents;
    int64_t spec_max_nesting;
    int64_t spec_max_nodes;
    int64_t spec_max_depth;
    int64_t leader_lease_ms;
    int64_t attempt_lease_ms;
    int64_t cache_reservation_ms;
    int64_t cache_recheck_ms;
    int64_t lp_tick_ms, lp_grace_ms, lp_batch, lp_retention_ms, lp_prune_every_ms;
    int64_t state_retention_ms;
    int64_t execution_timeout_ms; /* 0: none */
    int64_t reconcile_every_ms;   /* 0: off */
    int64_t child_check_ms;       /* a node waiting for its child execution checks it */
    int64_t claim_timeout_ms;     /* a dispatched attempt no worker claimed is retried after */
    int egress_nodes;             /* 0 off, 1 on (an enum: stored as int) */
    int egress_batch;             /* 0 off, 1 on: PhaseChanges, one per execution and batch */
    int64_t egress_delay_ms;      /* held this long after the first change (egress_batch) */
    int64_t engine_threads;
    int64_t dispatch_group; /* longest run of dispatches on one partition; 0: by key */
    int64_t redis_timeout_ms;

    int64_t blob_max_bytes;
    int64_t values_inline_max, values_max_bytes;
    char *worker_class;
    int64_t worker_concurrency;
    int64_t worker_backlog;
    int64_t worker_grace_ms;
    int64_t worker_kill_grace_ms;
    int64_t worker_result_hold_ms;    /* lease kept on an attempt whose result is published */
    int64_t worker_log_ship_every_ms; /* 0: logs only at the end */
    int64_t worker_started_after_ms;  /* TaskStarted once an attempt ran this long */
    char *worker_dir;
    char *worker_http;
    int64_t worker_threads;
    int64_t worker_output_max;
    int64_t worker_stderr_tail;
    char *worker_secrets_dir; /* one file per secret (wrk_secret.h) */
    int worker_cgroups;       /* 0 off, 1 on */
    int worker_noop;          /* 0 off, 1 on */
    char *worker_trace;
    char *oci_runtime;
    char *oci_rootfs_dir;
    int64_t oci_image_cache_keep;
    char *kube_api;
    char *kube_config;
    char *kube_namespace;
    char *kube_token_file;
    char *kube_ca_file;
    int64_t kube_poll_ms;
    int kube_watch; /* 0 off, 1 on */
    char *kube_helper_image;
    char *kube_secret_name; /* the Kubernetes Secret pods take tasks' secrets from */
    int64_t kube_run_as_user;
    char *kube_node_selector, *kube_tolerations, *kube_service_account, *kube_pull_secrets;

    char *project;       /* floectl: default project */
    char *domain;        /* floectl: default domain */
    char *producer_name; /* program name for envelopes; set by the program */
} floe_config;

enum { FLOE_BLOB_LOCAL = 0, FLOE_BLOB_S3 = 1 };
enum { FLOE_S3_PATH = 0, FLOE_S3_VIRTUAL = 1 };

/* What to load from. Any member may be NULL/0. */
typedef struct floe_config_source {
    const char *program;          /* "floe-scheduler", ...: the producer name */
    const char *file;             /* config file; when NULL, FLOE_CONFIG from env */
    char *const *env;             /* NULL-terminated "NAME=value" list; NULL = none */
    const char *const *overrides; /* "key=value" from flags */
    size_t n_overrides;
} floe_config_source;

/* Every problem found, one per line. */
typedef struct floe_config_report {
    unsigned count;
    char text[8192];
} floe_config_report;

/* On success *out owns a new config (free with floe_config_free). On failure returns
 * FLOE_EINVAL (bad entries, all listed in report) or FLOE_ENOMEM, and *out is NULL. */
floe_rc floe_config_load(const floe_config_source *src, floe_config **out,
                         floe_config_report *report);

void floe_config_free(floe_config *cfg);

/* Whether a key (of kafka.properties, say) names a secret: password, secret, token, key,
 * credential anywhere in it, in any case. */
bool floe_config_key_secret(const char *key, size_t len);

/* Writes every setting as `key = value`, secrets redacted. */
void floe_config_print(const floe_config *cfg, FILE *out);

/* Writes the table as help text: key, type, default, env variable, description. */
void floe_config_help(FILE *out);

/* Topic names derived from the prefix; buf gets "<prefix>.<suffix>". Returns FLOE_ETOOBIG
 * if it does not fit. */
floe_rc floe_config_topic(const floe_config *cfg, const char *suffix, char *buf, size_t size);

#endif
