/*
 * sched_decide — the engine's decisions as plain functions: given what a state script
 * answered for an event (as data), the effects to perform, in order: PhaseChanged
 * messages, dispatches, finalization, counters. And the check of a task's outputs against
 * its interface. No I/O, no allocation: the driver (sched_events.c) performs the effects
 * on the loop, and tests/unit/test_decide.c covers every branch with plain structs.
 *
 * What becomes ready, and whether an event is a duplicate or stale, is decided atomically
 * by the Redis scripts (tests/state); this module decides what follows from their answer.
 */
#ifndef SCHED_DECIDE_H
#define SCHED_DECIDE_H

#include "floe_phase.h"
#include "floe_spec.pb-c.h"
#include "floe_values.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The event whose script answered. */
typedef enum sched_event {
    SCHED_EV_CREATED = 1, /* ExecutionRequested: exec_create */
    SCHED_EV_STARTED,     /* TaskStarted: node_started */
    SCHED_EV_SUCCEEDED,   /* TaskSucceeded: node_succeeded */
    SCHED_EV_CACHED,      /* a catalog hit: node_succeeded as CACHED */
    SCHED_EV_FAILED,      /* TaskFailed (or bad outputs): node_failed */
    SCHED_EV_LEASE,       /* an attempt lease expired: node_failed with the lease check */
    SCHED_EV_ABORTED,     /* ExecutionTerminate or the execution timeout: exec_abort */
    SCHED_EV_EXPANDED,    /* a map node started its items: map_expand */
    SCHED_EV_BRANCH,      /* a branch's decision was made: branch_take */
    SCHED_EV_GATE,        /* a gate started waiting: gate_wait */
} sched_event;

/* The script's answer, as data. */
typedef enum sched_answer {
    SCHED_ANS_OK = 1,      /* the change was made */
    SCHED_ANS_NOOP,        /* duplicate or stale: nothing changed */
    SCHED_ANS_RETRY,       /* node_failed: another attempt; items = {next attempt, delay ms} */
    SCHED_ANS_FAILED,      /* node_failed: the node failed; items = nodes skipped */
    SCHED_ANS_ITEM_FAILED, /* node_failed: a map item failed; items = nodes made ready */
} sched_answer;

typedef struct sched_outcome {
    sched_event event;
    uint32_t node, attempt;     /* the event's (0 for execution-level events) */
    floe_error_kind error_kind; /* SCHED_EV_FAILED / _LEASE */
    sched_answer answer;
    int exec_phase;       /* the terminal phase the execution reached in this call, else 0 */
    const int64_t *items; /* nodes made ready (OK), skipped (FAILED), or the retry's pair */
    size_t n_items;
} sched_outcome;

typedef enum sched_effect_kind {
    SCHED_FX_EGRESS = 1,    /* a PhaseChanged: tr of node (or of the execution, exec_level) */
    SCHED_FX_DISPATCH,      /* send node's attempt through the outbox */
    SCHED_FX_FINALIZE,      /* the execution is terminal: write it to PostgreSQL */
    SCHED_FX_RETRY,         /* count (and log) a retry of node: attempt in delay_ms */
    SCHED_FX_LEASE_EXPIRED, /* count an expired attempt lease */
} sched_effect_kind;

typedef struct sched_effect {
    sched_effect_kind kind;
    bool exec_level;
    uint32_t node, attempt;
    floe_transition tr;
    floe_error_kind error_kind;
    int64_t delay_ms;
} sched_effect;

/* The most effects an outcome can produce: size out for it. */
#define SCHED_EFFECTS_MAX(n_items) ((n_items)*2 + 4)

/* The effects of o on an execution whose node indices are below n_nodes (its plan's
 * nodes and map items), into out (cap entries, at least SCHED_EFFECTS_MAX(o->n_items));
 * returns how many. Items naming no node are ignored. */
size_t sched_decide(const sched_outcome *o, uint32_t n_nodes, sched_effect *out, size_t cap);

/* A success's outputs checked against the task's interface: each declared output present
 * and of its type, into ordered (n = ifc->n_outputs, in declared order; extra outputs
 * are dropped). false with why (what is wrong, naming the output) otherwise: a USER
 * failure "bad_output". */
bool sched_decide_outputs(const Floe__Interface *ifc, Floe__NamedValue *const *got, size_t n_got,
                          Floe__NamedValue **ordered, char *why, size_t why_size);

#endif
