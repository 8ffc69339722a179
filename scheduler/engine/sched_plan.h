/*
 * sched_plan — what the engine runs: a compiled workflow flattened into one DAG of task
 * nodes. Sub-workflow calls are inlined ("outer.inner" ids); their inputs and outputs are
 * rewired to the nodes that produce them, so the engine, the Redis state and the workers
 * only ever see task nodes. Node indices are a pure function of the compiled spec, so
 * every leader derives the same plan from the same workflow version.
 *
 * A plan is immutable once built and owns everything it points to (one arena). Built on
 * any thread; read by the loop thread.
 */
#ifndef SCHED_PLAN_H
#define SCHED_PLAN_H

#include "floe_err.h"
#include "floe_spec.pb-c.h"

#include <stddef.h>
#include <stdint.h>

typedef enum sched_src_kind {
    SCHED_SRC_LITERAL = 1, /* a constant from the spec */
    SCHED_SRC_INPUT = 2,   /* an input of the execution */
    SCHED_SRC_OUTPUT = 3,  /* an output of a plan node */
} sched_src_kind;

typedef struct sched_binding {
    const char *name; /* the callee's input (or the workflow's output) */
    sched_src_kind kind;
    const Floe__Value *literal; /* LITERAL */
    const char *ref;            /* INPUT: execution input; OUTPUT: the node's output */
    uint32_t node;              /* OUTPUT */
} sched_binding;

typedef struct sched_pnode {
    const char *id; /* "train", or "prep.clean" inside sub-workflow node "prep" */
    const Floe__TaskSpec *task;
    const sched_binding *inputs; /* bound inputs; unbound ones take the task's defaults */
    uint32_t n_inputs;
    uint32_t n_upstream;  /* distinct nodes it waits for */
    const uint32_t *down; /* distinct nodes waiting for it, ascending */
    uint32_t n_down;
} sched_pnode;

typedef struct sched_plan {
    const Floe__WorkflowSpec *spec;
    const char *ref; /* "project/domain/name/version" */
    const sched_pnode *nodes;
    uint32_t n_nodes;
    const sched_binding *outputs; /* workflow outputs */
    uint32_t n_outputs;
    int failure_policy;         /* FLOE__FAILURE_POLICY__* (unset = fail fast) */
    const char *unresolved_csv; /* n_upstream of every node, "0,1,1,2" */
    size_t bytes;               /* memory held */
} sched_plan;

/* Dependency edges allowed per node of max_nodes (8 bytes each in the plan). */
#define SCHED_PLAN_EDGES_PER_NODE 25

/* Unpacks and flattens a compiled workflow. At most max_nodes task nodes and
 * max_nodes * SCHED_PLAN_EDGES_PER_NODE dependency edges after inlining. NULL with err
 * (FLOE_EINVAL: what is wrong with the spec; FLOE_ETOOBIG; FLOE_ENOMEM). */
sched_plan *sched_plan_build(const uint8_t *spec, size_t len, size_t max_nodes, floe_err *err);
void sched_plan_free(sched_plan *plan);

/* Index of the node with id, or -1. */
int64_t sched_plan_find(const sched_plan *plan, const char *id);

/* Transitive downstream of node (not including it), ascending, written to out (capacity
 * plan->n_nodes) using mark (plan->n_nodes bytes of scratch, zeroed on return). */
uint32_t sched_plan_closure(const sched_plan *plan, uint32_t node, uint32_t *out, uint8_t *mark);

#endif
