/*
 * store_run — the engine's writes to the executions table: an execution starts running,
 * an execution finished (with its nodes and attempts). Every write carries the leader's
 * epoch and only applies while that epoch still holds the lease row: a deposed leader's
 * write changes nothing and returns FLOE_EFENCED. Synchronous, on a pool thread.
 */
#ifndef STORE_RUN_H
#define STORE_RUN_H

#include "store_exec.h"

typedef struct store_run_node {
    const char *node_id;
    const char *phase;
    uint32_t attempts;
    const uint8_t *outputs; /* packed floe.ValueMap or NULL */
    size_t outputs_len;
    const char *error_kind, *error_code, *error; /* NULL unless failed */
} store_run_node;

typedef struct store_run_attempt {
    const char *node_id;
    uint32_t attempt;
    const char *phase;
    const char *error_kind, *error_code, *message, *worker; /* may be NULL */
    int64_t started_us, finished_us;                        /* 0: unknown */
    const char *stdout_uri, *stderr_uri;                    /* blob store, may be NULL */
} store_run_attempt;

/* A dataset the execution publishes (docs/launchplans.md): written to the outbox with the
 * result, sent to Kafka by the leader. */
typedef struct store_run_pub {
    const char *event_id, *dataset;
    const uint8_t *payload; /* packed floe.DataPublished */
    size_t len;
} store_run_pub;

typedef struct store_run_result {
    const char *exec_id;
    const char *phase;
    const uint8_t *outputs; /* packed floe.ValueMap or NULL */
    size_t outputs_len;
    const char *error; /* NULL when none */
    int64_t started_us, finished_us;
    const store_run_node *nodes;
    size_t n_nodes;
    const store_run_attempt *attempts;
    size_t n_attempts;
    const store_run_pub *pubs;
    size_t n_pubs;
} store_run_result;

/* The execution starts: QUEUED -> RUNNING. An execution requested straight on the bus (no
 * row yet) is inserted from ex first. *phase (size 16) receives the row's phase after the
 * call: a terminal phase means "already finished, do not run it again". */
floe_rc store_run_start(store_pg *pg, uint64_t epoch, const store_exec *ex, char *phase,
                        floe_err *err);

/* The common case of store_run_start for n executions at once, one statement: started[i]
 * says ids[i] went QUEUED -> RUNNING under epoch. Any other (no row yet, not QUEUED,
 * fenced) is for store_run_start, which says which. */
floe_rc store_run_start_many(store_pg *pg, uint64_t epoch, const char *const *ids, size_t n,
                             bool *started, floe_err *err);

/* Requests that came on the bus (a service's) have no row yet: the rows of ex[0..n) that
 * PostgreSQL does not have are inserted QUEUED in one transaction, with their projects
 * (recorded[i] says which were; those that exist already are left alone), so that
 * store_run_start_many can start them together. On an error nothing is recorded and
 * store_run_start takes each the long way. */
floe_rc store_run_record_many(store_pg *pg, const store_exec *const *ex, size_t n, bool *recorded,
                              floe_err *err);

/* A child execution's parent: the node and attempt that started it (execution[0] == 0:
 * it has none). */
typedef struct store_run_parent {
    char execution[136];
    char node[152];
    uint32_t attempt;
} store_run_parent;

/* Writes the finished execution, its nodes and attempts in one statement (with the
 * datasets it publishes, one transaction). Idempotent:
 * writing the same result again changes nothing. FLOE_EFENCED when epoch no longer holds
 * the lease. parent (may be NULL) receives the execution's parent, when it has one. */
floe_rc store_run_finish(store_pg *pg, uint64_t epoch, const store_run_result *res,
                         store_run_parent *parent, floe_err *err);

/* store_run_finish for n executions at once, in one statement (no datasets published:
 * those take store_run_finish, in a transaction with their outbox rows): written[i] says
 * res[i] was written under epoch, parents[i] its parent. Any not written (fenced, no row)
 * is for store_run_finish, which says why; an error writes nothing. */
floe_rc store_run_finish_many(store_pg *pg, uint64_t epoch, const store_run_result *const *res,
                              size_t n, bool *written, store_run_parent *parents, floe_err *err);

/* The nodes of ex->source_execution that produced outputs (SUCCEEDED, CACHED, RECOVERED),
 * provided it ran the same workflow version as ex: what a recovering execution takes
 * over. Strings and outputs in arena. */
floe_rc store_run_recoverable(store_pg *pg, const store_exec *ex, floe_arena *arena,
                              store_run_node **out, size_t *n, floe_err *err);

#endif
