/*
 * sched_state_read — an execution's Redis state (docs/state.md) decoded against its plan
 * into the rows PostgreSQL keeps: what finalization writes when the execution ends, and
 * what the API shows of a running one.
 */
#ifndef SCHED_STATE_READ_H
#define SCHED_STATE_READ_H

#include "floe_arena.h"
#include "sched_plan.h"
#include "store_redis.h"
#include "store_run.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct sched_state_log {
    uint32_t node, attempt;
    const char *out, *err; /* stdout/stderr blob uris, NULL when none */
} sched_state_log;

typedef struct sched_state_view {
    int phase; /* the execution's floe.Phase number, 0 when the hash had none */
    int64_t started_us, finished_us;
    const char *error;
    store_run_node *nodes; /* plan order, then each started map node's items in order */
    uint32_t n_nodes;
    store_run_attempt *attempts; /* ended attempts, from the attempt log */
    size_t n_attempts;
    uint32_t *attempt_node; /* per attempt: its node's position in nodes */
    uint32_t *map_first;    /* per map node (by map_ord): position of its item 0 in nodes */
    uint32_t *map_n;        /* per map node: its items (0: not started) */
    sched_state_log *logs;  /* from the hash's l<node>.<attempt> fields */
    size_t n_logs, cap_logs;
} sched_state_view;

/* Position in v->nodes of state index idx (a plan node or a map item), or -1. */
int64_t sched_state_read_slot(const sched_plan *plan, const sched_state_view *v, uint32_t idx);

/* Decodes the execution hash (an HGETALL answer) into v, all in a. ended: the execution
 * is over, so a node that never ran is SKIPPED (QUEUED if it succeeded), one in flight
 * ABORTED, and only succeeded or cached nodes keep outputs; otherwise every node shows
 * its phase now. false when out of memory. */
bool sched_state_read_hash(const sched_plan *plan, const store_reply *hash, bool ended,
                           floe_arena *a, sched_state_view *v);
/* Decodes the attempt log (an LRANGE answer) into v->attempts, with each attempt's log
 * uris from the hash read before. false when out of memory. */
bool sched_state_read_log(const sched_plan *plan, const store_reply *log, floe_arena *a,
                          sched_state_view *v);

#endif
