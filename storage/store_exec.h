/*
 * store_exec — the executions table: one row per accepted execution, created by the API
 * when it accepts a launch (phase QUEUED) and advanced by the engine.
 * Rows returned live in the caller's arena.
 */
#ifndef STORE_EXEC_H
#define STORE_EXEC_H

#include "floe_arena.h"
#include "floe_err.h"
#include "store_pg.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct store_exec {
    const char *id;
    const char *project, *domain;
    const char *workflow_name, *workflow_version;
    const char *launch_plan_name, *launch_plan_version; /* NULL when launched directly */
    const uint8_t *inputs;                              /* packed floe.ValueMap */
    size_t inputs_len;
    const uint8_t *outputs; /* packed floe.ValueMap; NULL until succeeded */
    size_t outputs_len;
    const char *phase;
    const char *requested_by;
    const char *source_execution; /* NULL unless relaunched/recovered */
    const char *error;            /* NULL unless failed */
    const char *labels;           /* a JSON object {key: value}; NULL (insert): none */
    bool recover, no_cache, overwrite_cache;
    int64_t scheduled_us; /* 0 when not scheduled */
    int64_t seq;
    int64_t created_us, updated_us, started_us, finished_us; /* 0 when not yet */
    /* A child execution (a launch-plan node's, a dynamic workflow's): the node and attempt
     * of its parent that started it; NULL/0 otherwise. nesting: parents above it. */
    const char *parent_execution, *parent_node;
    uint32_t parent_attempt, nesting;
    /* Insert only: the request's audit row, written by the same statement (one commit, one
     * round trip: a launch's hot path); NULL: none. */
    const struct store_audit *audit;
    /* Insert only: not 0, the row is recorded RUNNING under this leader epoch when the
     * lease still holds it (a launch the scheduler's API hands to its own engine, which
     * then has no start to write, issue 25), else QUEUED; 0: QUEUED. */
    uint64_t start_epoch;
} store_exec;

typedef struct store_exec_query {
    const char *project, *domain;                /* required */
    const char *phase;                           /* optional */
    const char *workflow_name;                   /* optional */
    const char *launch_plan_name;                /* optional */
    const char *requested_by;                    /* optional */
    const char *labels;                          /* optional JSON object they must contain */
    int64_t created_after_us, created_before_us; /* optional (0): created in [after, before) */
    int64_t before_seq;                          /* 0: newest first from the top */
    unsigned limit;
} store_exec_query;

/* Inserts a new execution (id, project, domain, workflow, launch plan, inputs, flags).
 * FLOE_ECONFLICT when the id exists. */
floe_rc store_exec_insert(store_pg *pg, const store_exec *ex, floe_err *err);

/* store_exec_insert of n rows in one transaction (one commit for launches that came
 * together), sent at once (store_pg_pipeline: one round trip). Each row's outcome is in errs[i]
 * (code FLOE_OK: written): when one is refused nothing of the transaction stays and each row is
 * inserted alone, so a row fails for its own reason only. started (NULL: not wanted): started[i]
 * whether row i was recorded RUNNING (its start_epoch held the lease). */
void store_exec_insert_many(store_pg *pg, const store_exec *const *ex, size_t n,
                            floe_err *const *errs, bool *started);

/* FLOE_ENOTFOUND when there is no such execution. */
floe_rc store_exec_get(store_pg *pg, const char *id, floe_arena *arena, store_exec *out,
                       floe_err *err);

floe_rc store_exec_list(store_pg *pg, const store_exec_query *q, floe_arena *arena,
                        store_exec **rows, size_t *n, bool *more, floe_err *err);

/* Up to limit QUEUED or RUNNING executions with seq > after_seq, started (or created, when
 * not started) more than min_age_ms ago, in seq order (the reconciler's page; see
 * sched_reconcile). */
floe_rc store_exec_running(store_pg *pg, int64_t after_seq, int64_t min_age_ms, unsigned limit,
                           floe_arena *arena, store_exec **rows, size_t *n, floe_err *err);

/* Inserts child execution ex (QUEUED; its parent_* set) unless it exists, one level deeper
 * than its parent. FLOE_ETOOBIG (a user error) when that would be deeper than max_nesting. */
floe_rc store_exec_child_insert(store_pg *pg, const store_exec *ex, uint32_t max_nesting,
                                floe_err *err);
/* Up to limit children of parent (live_only: those still QUEUED or RUNNING), oldest
 * first, in arena. */
floe_rc store_exec_children(store_pg *pg, const char *parent, bool live_only, unsigned limit,
                            floe_arena *arena, store_exec **rows, size_t *n, floe_err *err);

#endif
