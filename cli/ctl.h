/*
 * floectl internals: each verb is one function taking its own arguments (argv[0] is the
 * verb) and the loaded configuration, returning the process exit code: 0 success,
 * 1 the call failed, 2 bad usage, 3 waiting timed out, 4 the execution failed.
 */
#ifndef CTL_H
#define CTL_H

#include "floe_config.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

typedef enum ctl_output {
    CTL_OUT_TABLE = 0,
    CTL_OUT_JSON = 1,
    CTL_OUT_YAML = 2,
    CTL_OUT_DOT = 3,      /* Graphviz, for lineage; other verbs print JSON */
    CTL_OUT_NAME = 4,     /* -o name / -q: one id or KIND/NAME@VERSION a line, for scripts */
    CTL_OUT_JSONPATH = 5, /* -o jsonpath=EXPR: the values EXPR selects, space-separated */
} ctl_output;

typedef struct ctl_ctx {
    const floe_config *cfg;
    ctl_output output;
    const char *jsonpath; /* CTL_OUT_JSONPATH: "{.items[*].id}" */
} ctl_ctx;

typedef struct ctl_verb {
    const char *name;
    const char *summary;
    const char *help; /* full help; NULL when help_fn is set */
    void (*help_fn)(FILE *out);
    int (*run)(const ctl_ctx *ctx, int argc, char **argv); /* NULL: not in this build */
} ctl_verb;

/* ctl_main.c: the verbs, a verb's help text, floectl's own usage. */
const ctl_verb *ctl_verbs(size_t *n);
void ctl_verb_text(const ctl_verb *v, FILE *out);
void ctl_usage(FILE *out);
/* ctl_doc.c: floectl completion, floectl man (from the same help texts). */
int ctl_completion(const ctl_ctx *ctx, int argc, char **argv);
int ctl_man(const ctl_ctx *ctx, int argc, char **argv);

#define CTL_OK 0
#define CTL_FAILED 1
#define CTL_USAGE 2
#define CTL_TIMEOUT 3     /* --wait gave up: the execution is still running */
#define CTL_EXEC_FAILED 4 /* the call worked, the execution ended other than SUCCEEDED */

/* ctl_http.c: calls the API. On a 2xx answer *out gets the JSON body and CTL_OK is
 * returned; otherwise the error ({code, message, details}) is printed to stderr and
 * CTL_FAILED returned. path is escaped by the caller. */
int ctl_call(const ctl_ctx *ctx, const char *method, const char *path, const char *content_type,
             const void *body, size_t len, json_t **out);

/* Consumes --project/-p and --domain/-d at argv[*i] (and its value): 1 when consumed,
 * 0 when argv[*i] is something else, -1 (message printed) when the value is missing. */
int ctl_scope_flag(int argc, char **argv, int *i, const char **project, const char **domain);

/* "/api/v1/executions/ID[/SUFFIX]" in buf, the id escaped; -1 (said) when out of memory. */
int ctl_exec_path(char *buf, size_t size, const char *id, const char *suffix);

/* Appends "&key=value" (escaped) to a query being built in buf. */
void ctl_query_add(char *buf, size_t size, const char *key, const char *value);

/* ctl_out.c: prints a result in the chosen format. columns: for tables, the fields shown
 * for each item of {items: [...]} (or for the object itself), NULL-terminated. */
void ctl_print(const ctl_ctx *ctx, json_t *value, const char *const *columns);

/* ctl_launch.c: polls execution id until it ends or timeout_ms passes; prints it; CTL_OK
 * only when it succeeded. */
int ctl_wait_for(const ctl_ctx *ctx, const char *id, int64_t timeout_ms);

/* ctl_launch.c: each NAME=VALUE of pairs parsed against the interface of the workflow of
 * execution (a GET execution answer) into values. */
int ctl_typed_inputs(const ctl_ctx *ctx, json_t *execution, char **pairs, int n, json_t *values);

/* ctl_blob.c: stores the file at path in the blob store; *out = {uri, digest, size}. */
/* ctl_transfer.c: stores the file at path through the API; *out = {uri, digest, size}. */
int ctl_blob_put_json(const ctl_ctx *ctx, const char *path, json_t **out);
/* ctl_transfer.c: fetches blob uri through the API into fd, or out when fd is -1, less its
 * first skip bytes, checking its digest (a mismatch is said after the bytes went out:
 * write to a file to be safe). */
int ctl_blob_fetch(const ctl_ctx *ctx, const char *uri, int fd, FILE *out, uint64_t skip);
/* Writes blob uri to standard output (fetched and checked first). */
int ctl_blob_cat(const ctl_ctx *ctx, const char *uri);

/* Verbs. */
int ctl_smoke(const ctl_ctx *ctx, int argc, char **argv);
int ctl_admin(const ctl_ctx *ctx, int argc, char **argv);
int ctl_config(const ctl_ctx *ctx, int argc, char **argv);
int ctl_watch(const ctl_ctx *ctx, int argc, char **argv);
void ctl_watch_help(FILE *out);
void ctl_config_help(FILE *out);
/* ctl_context.c: consumes --context NAME from argv; the chosen (or current) context's
 * settings as "key=value" overrides (free with ctl_context_overrides_free); -1 said. */
int ctl_context_overrides(int *argc, char **argv, char ***out, size_t *n_out);
void ctl_context_overrides_free(char **ov, size_t n);
void ctl_admin_help(FILE *out);
void ctl_smoke_help(FILE *out);
int ctl_register(const ctl_ctx *ctx, int argc, char **argv);
/* ctl_auth.c */
int ctl_token(const ctl_ctx *ctx, int argc, char **argv);
int ctl_whoami(const ctl_ctx *ctx, int argc, char **argv);
int ctl_dataset(const ctl_ctx *ctx, int argc, char **argv);
int ctl_audit(const ctl_ctx *ctx, int argc, char **argv);
/* ctl_http.c: the token floectl sends: api.token (FLOE_TOKEN), else the file api.token_file
 * (FLOE_TOKEN_FILE); -1 (said) when that file cannot be read. */
int ctl_use_token(const floe_config *cfg);
int ctl_get(const ctl_ctx *ctx, int argc, char **argv);
int ctl_list(const ctl_ctx *ctx, int argc, char **argv);
int ctl_activate(const ctl_ctx *ctx, int argc, char **argv);
int ctl_launch(const ctl_ctx *ctx, int argc, char **argv);
int ctl_wait(const ctl_ctx *ctx, int argc, char **argv);
int ctl_blob(const ctl_ctx *ctx, int argc, char **argv);
int ctl_logs(const ctl_ctx *ctx, int argc, char **argv);
/* ctl_logs.c: `floectl get nodes EXECUTION_ID`. */
int ctl_get_nodes(const ctl_ctx *ctx, const char *id);
int ctl_terminate(const ctl_ctx *ctx, int argc, char **argv);
int ctl_gate(const ctl_ctx *ctx, int argc, char **argv);     /* approve, reject, signal */
int ctl_relaunch(const ctl_ctx *ctx, int argc, char **argv); /* relaunch and recover */
int ctl_cache(const ctl_ctx *ctx, int argc, char **argv);
int ctl_lineage(const ctl_ctx *ctx, int argc, char **argv);
int ctl_publish(const ctl_ctx *ctx, int argc, char **argv);

#endif
