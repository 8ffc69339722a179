/*
 * it_exec — helpers for tests that drive executions through the API: register specs,
 * launch, wait for an execution to end and check it, read PostgreSQL and /metrics.
 * The test sets `it` (the API it talks to, its project, a PostgreSQL connection).
 */
#ifndef IT_EXEC_H
#define IT_EXEC_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>

typedef struct it_ctx {
    const char *api;  /* base URL of the replica the test talks to */
    char project[40]; /* a project of the test's own */
    PGconn *pg;
} it_ctx;

extern it_ctx it;

/* POST /api/v1/register of a YAML text into it.project; fails the test unless accepted. */
void it_register(const char *yaml);
/* Launches workflow wf with inputs (a JSON object text); id receives the execution id. */
void it_launch(const char *wf, const char *inputs_json, char id[64]);
/* GET the execution (decref). */
/* The same with more launch fields (options: JSON members, e.g. "\"no_cache\": true"). */
void it_launch_opts(const char *wf, const char *inputs_json, const char *options, char id[64]);
json_t *it_get_exec(const char *id);
bool it_terminal(const char *phase);
/* Polls until the execution ends (fails the test after timeout_ms); returns it (decref). */
json_t *it_wait_exec(const char *id, int timeout_ms);
void it_expect_phase(json_t *ex, const char *phase);
long long it_output_int(json_t *ex, const char *name);
/* One value from SQL with $1 = exec (and $2 = node when not NULL); text is malloc'd. */
long long it_sql_int(const char *sql, const char *exec, const char *node);
char *it_sql_text(const char *sql, const char *exec, const char *node);
/* The first series called name on base's /metrics; -1 when it does not answer. */
long long it_metric(const char *base, const char *name);
/* Polls until the metric reaches want (fails the test after timeout_ms). */
void it_wait_metric(const char *base, const char *name, long long want, int timeout_ms);
/* The last attempt of a node failed as kind (USER, SYSTEM) with code and a message
 * holding needle; printed either way. */
void it_expect_attempt_error(const char *exec, const char *node, const char *kind, const char *code,
                             const char *needle);
/* A whole file (malloc'd, NUL-terminated; *len when not NULL); fails the test when it
 * cannot be read. */
char *it_read_file(const char *path, size_t *len);
/* text with every from replaced by to (malloc'd). */
char *it_replace_all(const char *text, const char *from, const char *to);

#endif
